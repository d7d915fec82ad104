-- :checkhealth promptls
local M = {}

function M.check()
  local health = vim.health
  local promptls = require('promptls')

  health.start('promptls: Neovim')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.11 or newer is needed (vim.lsp.config / vim.lsp.enable); this is ' .. tostring(vim.version()))
  end

  health.start('promptls: language server')
  local config = vim.lsp.config.promptls
  local cmd = config and config.cmd
  if type(cmd) ~= 'table' or not cmd[1] then
    health.error('no `cmd` in the promptls config: is editors/neovim on the runtimepath?')
  elseif vim.fn.executable(cmd[1]) == 0 then
    health.error(
      ('`%s` is not executable'):format(cmd[1]),
      { 'cargo install --path server (from a clone of promptls)', "or setup({ cmd = { '/path/to/promptls', 'lsp' } })" }
    )
  else
    local version = vim.system({ cmd[1], '--version' }, { text = true }):wait()
    health.ok(('`%s` found: %s'):format(table.concat(cmd, ' '), vim.trim(version.stdout or '?')))
  end
  if vim.lsp.is_enabled and not vim.lsp.is_enabled('promptls') then
    health.warn("promptls is not enabled: call require('promptls').setup() or vim.lsp.enable('promptls')")
  end
  local clients = vim.lsp.get_clients({ name = 'promptls' })
  if #clients == 0 then
    health.info('no promptls client running (open a .prompt file)')
  end
  for _, client in ipairs(clients) do
    health.ok(('client %d: root %s, %d buffer(s)'):format(
      client.id,
      tostring(client.root_dir or client.config.root_dir),
      vim.tbl_count(client.attached_buffers)
    ))
  end
  health.info('settings: ' .. vim.inspect((config and config.settings) or {}, { newline = ' ', indent = '' }))
  health.info('LSP log: ' .. vim.lsp.log.get_filename() .. ' (raise it with `settings = { logLevel = "debug" }`)')

  health.start('promptls: tree-sitter')
  local parser = promptls.parser_path()
  if parser then
    if promptls.register_parser() then
      health.ok('parser: ' .. parser)
    else
      health.error('parser ' .. parser .. ' does not load; rebuild it with :PromptlsBuildParser')
    end
  else
    health.warn('no compiled parser (parser/prompt.so): highlighting is off', {
      ':PromptlsBuildParser (needs a C compiler)',
      'or: cc -O2 -shared -fPIC -I src src/parser.c src/scanner.c -o ' .. promptls.default_parser_path(),
    })
    return
  end
  for _, name in ipairs({ 'highlights', 'injections', 'folds' }) do
    local ok, query = pcall(vim.treesitter.query.get, 'prompt', name)
    if ok and query then
      health.ok('query ' .. name .. '.scm')
    elseif ok then
      health.error('query ' .. name .. '.scm not found: is editors/neovim on the runtimepath?')
    else
      health.error('query ' .. name .. '.scm: ' .. tostring(query))
    end
  end
  local ok_yaml, has_yaml = pcall(vim.treesitter.language.add, 'yaml')
  if ok_yaml and has_yaml then
    health.ok('yaml parser found: the frontmatter is highlighted as YAML')
  else
    health.info('no yaml parser: the frontmatter is not highlighted (e.g. :TSInstall yaml with nvim-treesitter)')
  end
end

return M
