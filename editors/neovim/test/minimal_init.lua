-- `nvim --headless --clean -u test/minimal_init.lua -l test/<scenario>.lua`: this plugin
-- on the runtimepath before startup, so ftdetect/, plugin/, ftplugin/ and lsp/ load the way
-- they do for a user who appends the folder in init.lua.
local test_dir = vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, 'S').source:sub(2)))
local plugin = vim.fs.dirname(test_dir)
vim.opt.runtimepath:prepend(plugin)
vim.opt.swapfile = false
