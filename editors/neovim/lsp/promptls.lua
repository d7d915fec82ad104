-- The promptls language server for Neovim 0.11+. Neovim reads this file from the
-- runtimepath: `vim.lsp.enable('promptls')` starts it for `prompt` buffers, and
-- `vim.lsp.config('promptls', {...})` (or `require('promptls').setup({...})`) merges
-- your changes into it.
--
-- Settings (all optional; the bare table or `{ promptls = {...} }`):
--   logLevel          "error" | "warn" | "info" | "debug" | "trace"
--   checks.disabled   diagnostic codes not to report, e.g. { 'unused-variable' }
--   checks.severity   code -> "error" | "warning" | "info" | "hint"
--   models.aliases    alias -> 'provider/model', e.g. { fast = 'groq/llama-3.1-8b-instant' }
--   providers         name -> { baseUrl = ..., apiKeyEnv = ..., rpm = ..., tpm = ..., concurrency = ... }
--                     (apiKeyEnv: the name of the environment variable with the key)
--   evaluate.onSave   evaluate a prompt with a dataset when it is saved (default false)
--   evaluate.rowBudget  at most this many rows on save (default 20)
-- They are sent at start (initializationOptions) and again whenever you send
-- `workspace/didChangeConfiguration` (see the README).
--
-- Code lenses: the server asks for a refresh while and after it evaluates
-- (`workspace/codeLens/refresh`, which Neovim does not handle itself); the lenses'
-- `promptls.evaluate` and `promptls.showEvaluation` run here so that their result shows
-- (a message, the report as JSON). plugin/promptls.lua refreshes the lenses on attach.
---@type vim.lsp.Config
return {
  cmd = { 'promptls', 'lsp' },
  filetypes = { 'prompt' },
  root_markers = { 'promptls.toml', '.git' },
  init_options = {},
  settings = {},
  capabilities = { workspace = { codeLens = { refreshSupport = true } } },
  handlers = {
    ['workspace/codeLens/refresh'] = function(...)
      return require('promptls').on_codelens_refresh(...)
    end,
  },
  commands = {
    ['promptls.evaluate'] = function(...)
      return require('promptls').run_command(...)
    end,
    ['promptls.showEvaluation'] = function(...)
      return require('promptls').run_command(...)
    end,
  },
  -- Settings given only as `settings` also apply from the first diagnostics on.
  before_init = function(params, config)
    local init = params.initializationOptions
    if (init == nil or (type(init) == 'table' and next(init) == nil)) and next(config.settings or {}) ~= nil then
      params.initializationOptions = config.settings
    end
  end,
}
