[
  (frontmatter)
  (block)
  (else_clause)
  (demos_block)
  (raw_block)
  (comment)
] @fold
