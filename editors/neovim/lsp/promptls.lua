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
--   providers         name -> { baseUrl = ..., rpm = ..., tpm = ..., concurrency = ... }
-- They are sent at start (initializationOptions) and again whenever you send
-- `workspace/didChangeConfiguration` (see the README).
---@type vim.lsp.Config
return {
  cmd = { 'promptls', 'lsp' },
  filetypes = { 'prompt' },
  root_markers = { 'promptls.toml', '.git' },
  init_options = {},
  settings = {},
  -- Settings given only as `settings` also apply from the first diagnostics on.
  before_init = function(params, config)
    local init = params.initializationOptions
    if (init == nil or (type(init) == 'table' and next(init) == nil)) and next(config.settings or {}) ~= nil then
      params.initializationOptions = config.settings
    end
  end,
}
