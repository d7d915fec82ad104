-- promptls for Neovim 0.11+: the language server (diagnostics, hover, completion,
-- definitions, code actions, code lenses to evaluate a prompt), the `prompt` filetype,
-- and tree-sitter highlighting when the parser is built (:PromptlsBuildParser).
--
-- Everything works without `setup()` too: ftdetect/ gives the filetype, lsp/promptls.lua
-- the server config (`vim.lsp.enable('promptls')`), ftplugin/ starts tree-sitter when a
-- parser is found, plugin/ defines the commands and keeps the code lenses of attached
-- buffers fresh. `setup()` merges your options into the server config and enables it.
local M = {}

--- Options of the plugin itself (everything else given to `setup()` goes to the server
--- config).
---@class promptls.PluginOptions
---@field parser string|nil path to a compiled prompt.so (default: `parser/prompt.so` on the runtimepath, then `stdpath('data')/site/parser/prompt.so`)
---@field treesitter boolean|nil start tree-sitter highlighting in prompt buffers (default true)
---@field enable boolean|nil call `vim.lsp.enable('promptls')` (default true)
---@field codelens boolean|nil show and refresh the server's code lenses (default true)
M.options = { treesitter = true, enable = true, codelens = true }

local plugin_keys = { parser = true, treesitter = true, enable = true, codelens = true }

--- The folder of this plugin (the one holding lua/, lsp/, queries/).
function M.plugin_root()
  local source = debug.getinfo(1, 'S').source:sub(2)
  return vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(vim.fs.normalize(source))))
end

--- The default grammar folder: the repository's, two levels above this plugin.
function M.default_grammar()
  return vim.fs.normalize(vim.fs.joinpath(M.plugin_root(), '..', '..', 'grammars', 'tree-sitter-prompt'))
end

--- Where `:PromptlsBuildParser` puts the parser by default.
function M.default_parser_path()
  return vim.fs.joinpath(vim.fn.stdpath('data'), 'site', 'parser', 'prompt.so')
end

--- The compiled parser to use, or nil when none is found.
---@return string|nil
function M.parser_path()
  local candidates = {
    M.options.parser,
    vim.api.nvim_get_runtime_file('parser/prompt.so', false)[1],
    M.default_parser_path(),
  }
  for _, path in pairs(candidates) do
    if path and vim.fn.filereadable(vim.fs.normalize(path)) == 1 then
      return vim.fs.normalize(path)
    end
  end
  return nil
end

local registered = false

--- Registers the `prompt` tree-sitter language (once) if a compiled parser is found.
---@param path string|nil explicit path to prompt.so
---@return boolean
function M.register_parser(path)
  if registered and not path then
    return true
  end
  path = path or M.parser_path()
  if not path then
    return false
  end
  -- language.add throws in some versions and returns `nil, message` in others.
  local ok, loaded, message = pcall(vim.treesitter.language.add, 'prompt', { path = path })
  if not ok or not loaded then
    local err = ok and message or loaded
    vim.notify('promptls: cannot load the tree-sitter parser ' .. path .. ': ' .. tostring(err), vim.log.levels.WARN)
    return false
  end
  registered = true
  return true
end

--- Starts tree-sitter highlighting in a prompt buffer when a parser is available.
---@param buf integer|nil buffer (default current)
---@return boolean started
function M.start_treesitter(buf)
  buf = (buf == nil or buf == 0) and vim.api.nvim_get_current_buf() or buf
  if M.options.treesitter == false or vim.bo[buf].filetype ~= 'prompt' then
    return false
  end
  if not M.register_parser() then
    return false
  end
  local ok, err = pcall(vim.treesitter.start, buf, 'prompt')
  if not ok then
    vim.notify('promptls: tree-sitter highlighting failed: ' .. tostring(err), vim.log.levels.WARN)
  end
  return ok
end

--- Compiles the grammar into a shared library and loads it.
---@param grammar string|nil the grammar folder (default: the repository's, next to this plugin)
---@param out string|nil the library to write (default `stdpath('data')/site/parser/prompt.so`)
---@return string out
function M.build_parser(grammar, out)
  grammar = vim.fs.normalize(grammar or M.default_grammar())
  out = vim.fs.normalize(out or M.default_parser_path())
  local src = vim.fs.joinpath(grammar, 'src')
  if vim.fn.filereadable(vim.fs.joinpath(src, 'parser.c')) == 0 then
    error('promptls: no grammar at ' .. grammar .. ' (expected src/parser.c; pass the grammars/tree-sitter-prompt folder)', 0)
  end
  vim.fn.mkdir(vim.fs.dirname(out), 'p')
  local cc = vim.env.CC or 'cc'
  local cmd = {
    cc, '-O2', '-shared', '-fPIC', '-I', src,
    vim.fs.joinpath(src, 'parser.c'), vim.fs.joinpath(src, 'scanner.c'), '-o', out,
  }
  local ok, result = pcall(function()
    return vim.system(cmd):wait()
  end)
  if not ok then
    error('promptls: cannot run ' .. cc .. ': ' .. tostring(result), 0)
  end
  if result.code ~= 0 then
    error('promptls: building the parser failed: ' .. (result.stderr or ''), 0)
  end
  -- A parser already loaded under the name `prompt` stays until Neovim restarts.
  M.register_parser(out)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].filetype == 'prompt' then
      M.start_treesitter(buf)
    end
  end
  return out
end

--- Shows `value` as JSON in a new scratch split (pretty-printed when `jq` is installed).
---@param value any
function M.show_json(value)
  local json = vim.json.encode(value)
  local lines = vim.split(json, '\n')
  if vim.fn.executable('jq') == 1 then
    local pretty = vim.system({ 'jq', '.' }, { stdin = json }):wait()
    if pretty.code == 0 then
      lines = vim.split(vim.trim(pretty.stdout), '\n')
    end
  end
  vim.cmd('botright new')
  local out = vim.api.nvim_get_current_buf()
  vim.bo[out].buftype = 'nofile'
  vim.bo[out].bufhidden = 'wipe'
  vim.bo[out].filetype = 'json'
  vim.api.nvim_buf_set_lines(out, 0, -1, false, lines)
end

--- The promptls client of `buf`, or nil (with a warning).
---@param buf integer
---@return vim.lsp.Client|nil
local function client_of(buf)
  local client = vim.lsp.get_clients({ bufnr = buf, name = 'promptls' })[1]
  if not client then
    vim.notify('promptls: no language server on this buffer', vim.log.levels.WARN)
  end
  return client
end

--- Shows what would be sent to the model (`promptls.render`) in a scratch buffer.
---@param row integer|nil dataset row (1-based)
function M.render(row)
  local buf = vim.api.nvim_get_current_buf()
  local client = client_of(buf)
  if not client then
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
    M.show_json(result)
  end, buf)
end

--- What the plugin does with the result of a server command it runs itself.
---@param command string
---@param result any
---@param buf integer
local function show_result(command, result, buf)
  if command == 'promptls.showEvaluation' then
    if result == nil or result == vim.NIL then
      vim.notify('promptls: this prompt has not been evaluated yet in this session: run ▶ Evaluate first')
    else
      M.show_json(result)
    end
  elseif command == 'promptls.evaluate' and type(result) == 'table' then
    if result.started == false then
      vim.notify('promptls: the evaluation did not start: ' .. tostring(result.reason or 'no reason given'), vim.log.levels.WARN)
    elseif result.started then
      vim.notify(('promptls: evaluating %s in the background'):format(vim.fs.basename(vim.api.nvim_buf_get_name(buf))))
    end
  end
end

--- Runs a server command (`workspace/executeCommand`) and shows its result; used for the
--- commands of the code lenses (client-side `commands` in lsp/promptls.lua, which
--- `vim.lsp.codelens.run()` calls through `client:exec_cmd`) and by :PromptlsEvaluate.
---@param command lsp.Command
---@param ctx { client_id: integer, bufnr: integer }
function M.run_command(command, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return
  end
  local params = { command = command.command, arguments = command.arguments }
  client:request('workspace/executeCommand', params, function(err, result)
    if err then
      vim.notify('promptls: ' .. err.message, vim.log.levels.ERROR)
    else
      show_result(command.command, result, ctx.bufnr)
    end
    -- codelens.run() hides the lens it ran until the next refresh.
    if M.options.codelens ~= false and vim.api.nvim_buf_is_valid(ctx.bufnr) then
      vim.lsp.codelens.refresh({ bufnr = ctx.bufnr })
    end
  end, ctx.bufnr)
end

--- Evaluates the current prompt on its dataset in the background (`promptls.evaluate`),
--- on at most `limit` rows (default: every row).
---@param limit integer|nil
function M.evaluate(limit)
  local buf = vim.api.nvim_get_current_buf()
  local client = client_of(buf)
  if not client then
    return
  end
  M.run_command({
    title = 'Evaluate',
    command = 'promptls.evaluate',
    arguments = { { uri = vim.uri_from_bufnr(buf), limit = limit } },
  }, { client_id = client.id, bufnr = buf })
end

local codelens_group = 'promptls.codelens'
--- Buffers whose lenses the plugin keeps fresh (the server's refreshes go to them).
local codelens_buffers = {}
--- Per buffer, a lens request in flight ('busy') or one to send after it ('again').
local inflight = {}

--- Asks `client` for the lenses of `buf` and shows them; a request while one is in
--- flight is sent when that one is answered, so the last answer is the newest.
---@param client vim.lsp.Client
---@param buf integer
local function request_lenses(client, buf)
  if inflight[buf] then
    inflight[buf] = 'again'
    return
  end
  inflight[buf] = 'busy'
  local params = { textDocument = vim.lsp.util.make_text_document_params(buf) }
  local sent = client:request('textDocument/codeLens', params, function(err, result, ctx)
    local again = inflight[buf] == 'again'
    inflight[buf] = nil
    if vim.api.nvim_buf_is_loaded(buf) and codelens_buffers[buf] then
      vim.lsp.codelens.on_codelens(err, result, ctx)
      if again then
        request_lenses(client, buf)
      end
    end
  end, buf)
  if not sent then
    inflight[buf] = nil
  end
end

--- Handler of the server's `workspace/codeLens/refresh` (during and after an evaluation):
--- fetches the lenses of the client's buffers anew.
function M.on_codelens_refresh(_, _, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client then
    vim.schedule(function()
      for buf in pairs(codelens_buffers) do
        if vim.api.nvim_buf_is_loaded(buf) and client.attached_buffers[buf] then
          request_lenses(client, buf)
        end
      end
    end)
  end
  return vim.NIL
end

--- Shows the server's code lenses in `buf` (▶ Evaluate, the score, ...) and refreshes
--- them on BufEnter, InsertLeave and BufWritePost (run by the LspAttach autocommand of
--- plugin/promptls.lua). Run one with `vim.lsp.codelens.run()`.
---@param buf integer
---@param client vim.lsp.Client
---@return boolean attached
function M.attach_codelens(buf, client)
  if M.options.codelens == false or not client:supports_method('textDocument/codeLens', buf) then
    return false
  end
  local group = vim.api.nvim_create_augroup(codelens_group, { clear = false })
  vim.api.nvim_clear_autocmds({ group = group, buffer = buf })
  vim.api.nvim_create_autocmd({ 'BufEnter', 'InsertLeave', 'BufWritePost' }, {
    group = group,
    buffer = buf,
    desc = 'promptls: refresh the code lenses',
    callback = function()
      vim.lsp.codelens.refresh({ bufnr = buf })
    end,
  })
  codelens_buffers[buf] = true
  vim.lsp.codelens.refresh({ bufnr = buf })
  return true
end

--- Stops refreshing the lenses of `buf` (LspDetach).
---@param buf integer
---@param client_id integer
function M.detach_codelens(buf, client_id)
  if not codelens_buffers[buf] then
    return
  end
  codelens_buffers[buf] = nil
  inflight[buf] = nil
  pcall(vim.api.nvim_clear_autocmds, { group = codelens_group, buffer = buf })
  if vim.api.nvim_buf_is_valid(buf) then
    vim.lsp.codelens.clear(client_id, buf)
  end
end

---@class promptls.Options: promptls.PluginOptions, vim.lsp.Config
---@field cmd string[]|nil the server command (default `{ 'promptls', 'lsp' }`)
---@field settings table|nil server settings (logLevel, checks, models, providers, evaluate); also sent as `init_options` unless those are given

--- Configures and enables the language server; any `vim.lsp.Config` field (cmd, settings,
--- root_markers, capabilities, on_attach, ...) is merged into lsp/promptls.lua's config.
---@param opts promptls.Options|nil
function M.setup(opts)
  opts = opts or {}
  local config = {}
  for key, value in pairs(opts) do
    if plugin_keys[key] then
      M.options[key] = value
    else
      config[key] = value
    end
  end
  if config.settings ~= nil and config.init_options == nil then
    config.init_options = config.settings
  end
  vim.filetype.add({ extension = { prompt = 'prompt' } })
  if next(config) ~= nil then
    vim.lsp.config('promptls', config)
  end
  if M.options.enable ~= false then
    vim.lsp.enable('promptls')
  end
  if M.options.parser then
    registered = false
  end
  -- Buffers opened before setup (e.g. when the plugin is lazy-loaded on FileType).
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].filetype == 'prompt' then
      M.start_treesitter(buf)
    end
  end
end

return M
