-- promptls for Neovim 0.11+: the language server (diagnostics, hover, completion,
-- definitions, code actions), the `prompt` filetype, and tree-sitter highlighting when
-- the parser is built (:PromptlsBuildParser).
local M = {}

--- The folder of this plugin (the one holding lua/, lsp/, queries/).
local function plugin_root()
  local source = debug.getinfo(1, 'S').source:sub(2)
  return vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(source)))
end

--- Registers the `prompt` tree-sitter parser if a compiled one is found.
---@param path string|nil explicit path to prompt.so
local function register_parser(path)
  path = path or vim.api.nvim_get_runtime_file('parser/prompt.so', false)[1]
  if not path or vim.fn.filereadable(path) == 0 then
    return false
  end
  local ok, err = pcall(vim.treesitter.language.add, 'prompt', { path = path })
  if not ok then
    vim.notify('promptls: cannot load the tree-sitter parser ' .. path .. ': ' .. tostring(err), vim.log.levels.WARN)
  end
  return ok
end

--- Compiles grammars/tree-sitter-prompt into <stdpath data>/site/parser/prompt.so.
---@param grammar string|nil the grammar folder (default: the repository's, next to this plugin)
function M.build_parser(grammar)
  grammar = grammar or vim.fs.joinpath(plugin_root(), '..', '..', 'grammars', 'tree-sitter-prompt')
  local out_dir = vim.fs.joinpath(vim.fn.stdpath('data'), 'site', 'parser')
  vim.fn.mkdir(out_dir, 'p')
  local out = vim.fs.joinpath(out_dir, 'prompt.so')
  local cc = vim.env.CC or 'cc'
  local result = vim.system({
    cc, '-O2', '-shared', '-fPIC', '-I', grammar .. '/src',
    grammar .. '/src/parser.c', grammar .. '/src/scanner.c', '-o', out,
  }):wait()
  if result.code ~= 0 then
    error('promptls: building the parser failed: ' .. (result.stderr or ''))
  end
  register_parser(out)
  return out
end

--- Shows what would be sent to the model (`promptls.render`) in a scratch buffer.
---@param row integer|nil dataset row (1-based)
function M.render(row)
  local buf = vim.api.nvim_get_current_buf()
  local client = vim.lsp.get_clients({ bufnr = buf, name = 'promptls' })[1]
  if not client then
    vim.notify('promptls: no language server on this buffer', vim.log.levels.WARN)
    return
  end
  local params = {
    command = 'promptls.render',
    arguments = { { uri = vim.uri_from_bufnr(buf), row = row } },
  }
  client:request('workspace/executeCommand', params, function(err, result)
    if err then
      vim.notify('promptls: ' .. err.message, vim.log.levels.ERROR)
      return
    end
    local lines = vim.split(vim.json.encode(result), '\n')
    if vim.fn.executable('jq') == 1 then
      lines = vim.fn.systemlist({ 'jq', '.' }, vim.json.encode(result))
    end
    vim.cmd('botright new')
    local out = vim.api.nvim_get_current_buf()
    vim.bo[out].buftype = 'nofile'
    vim.bo[out].filetype = 'json'
    vim.api.nvim_buf_set_lines(out, 0, -1, false, lines)
  end, buf)
end

---@class promptls.Options
---@field cmd string[]|nil the server command (default `{ 'promptls', 'lsp' }`)
---@field settings table|nil server settings (logLevel, checks, models, providers)
---@field parser string|nil path to a compiled prompt.so
---@field treesitter boolean|nil start tree-sitter highlighting for prompt buffers (default true)

---@param opts promptls.Options|nil
function M.setup(opts)
  opts = opts or {}
  vim.filetype.add({ extension = { prompt = 'prompt' } })
  local config = {}
  if opts.cmd then
    config.cmd = opts.cmd
  end
  if opts.settings then
    config.settings = opts.settings
    config.init_options = opts.settings
  end
  vim.lsp.config('promptls', config)
  vim.lsp.enable('promptls')

  local has_parser = register_parser(opts.parser)
  if opts.treesitter ~= false then
    vim.api.nvim_create_autocmd('FileType', {
      pattern = 'prompt',
      group = vim.api.nvim_create_augroup('promptls', { clear = true }),
      callback = function(args)
        if has_parser or register_parser(opts.parser) then
          has_parser = true
          pcall(vim.treesitter.start, args.buf, 'prompt')
        end
      end,
    })
  end

  vim.api.nvim_create_user_command('PromptlsBuildParser', function(cmd)
    local out = M.build_parser(cmd.args ~= '' and cmd.args or nil)
    has_parser = true
    vim.notify('promptls: built ' .. out)
  end, { nargs = '?', complete = 'dir', desc = 'Compile the prompt tree-sitter parser' })
  vim.api.nvim_create_user_command('PromptlsRender', function(cmd)
    M.render(tonumber(cmd.args))
  end, { nargs = '?', desc = 'Show the rendered prompt (optionally for dataset row N)' })
end

return M
