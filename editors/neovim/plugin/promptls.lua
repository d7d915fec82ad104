-- Commands of the promptls plugin (available with or without `require('promptls').setup()`).
if vim.g.loaded_promptls then
  return
end
vim.g.loaded_promptls = 1

vim.api.nvim_create_user_command('PromptlsBuildParser', function(cmd)
  local ok, result = pcall(require('promptls').build_parser, cmd.fargs[1], cmd.fargs[2])
  if ok then
    vim.notify('promptls: built ' .. result)
  else
    vim.notify(tostring(result), vim.log.levels.ERROR)
  end
end, {
  nargs = '*',
  complete = 'dir',
  desc = 'Compile the prompt tree-sitter parser: [grammar-dir [output.so]]',
})

vim.api.nvim_create_user_command('PromptlsRender', function(cmd)
  require('promptls').render(tonumber(cmd.args))
end, { nargs = '?', desc = 'Show the rendered prompt (optionally for dataset row N)' })
