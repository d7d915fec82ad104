-- Commands of the promptls plugin, and the code lenses of buffers promptls attaches to
-- (available with or without `require('promptls').setup()`).
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

vim.api.nvim_create_user_command('PromptlsEvaluate', function(cmd)
  local limit = tonumber(cmd.args)
  if cmd.args ~= '' and not (limit and limit >= 1 and limit % 1 == 0) then
    vim.notify('promptls: :PromptlsEvaluate takes a number of rows, not ' .. cmd.args, vim.log.levels.ERROR)
    return
  end
  require('promptls').evaluate(limit)
end, { nargs = '?', desc = 'Evaluate the prompt on its dataset (optionally on at most N rows)' })

-- Neovim does not show code lenses by itself: fetch them when promptls attaches, and on
-- BufEnter, InsertLeave and BufWritePost (`setup({ codelens = false })` turns this off).
local group = vim.api.nvim_create_augroup('promptls.attach', { clear = true })
vim.api.nvim_create_autocmd('LspAttach', {
  group = group,
  desc = 'promptls: code lenses',
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'promptls' then
      require('promptls').attach_codelens(args.buf, client)
    end
  end,
})
vim.api.nvim_create_autocmd('LspDetach', {
  group = group,
  desc = 'promptls: code lenses',
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'promptls' then
      require('promptls').detach_codelens(args.buf, client.id)
    end
  end,
})
