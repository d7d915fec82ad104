-- The promptls language server for Neovim 0.11+ (`vim.lsp.enable('promptls')`).
-- `require('promptls').setup()` enables it with your options merged in.
---@type vim.lsp.Config
return {
  cmd = { 'promptls', 'lsp' },
  filetypes = { 'prompt' },
  root_markers = { 'promptls.toml', '.git' },
  -- Server settings (see the README): sent at start and on `workspace/didChangeConfiguration`.
  init_options = {},
  settings = {},
}
