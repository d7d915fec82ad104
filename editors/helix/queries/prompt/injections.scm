; The frontmatter is YAML.
((yaml_content) @injection.content
  (#set! injection.language "yaml"))
