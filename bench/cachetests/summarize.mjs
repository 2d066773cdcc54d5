// Prints cache-tests results (the JSON the suite's CLI writes) as one
// Markdown table, our rows first, then the published reverse proxies' and
// CDNs' results that ship with the suite, all counted the same way.
//
//   node summarize.mjs --suite DIR [--failures] label=results.json ...
//
// Each result is counted in one column, by the test's kind (tests/*.mjs):
//   pass      true (required or optimal test)
//   fail      ["Assertion", ...] on a required test: the cache got it wrong
//   opt-fail  ["Assertion", ...] on an optimal test
//   setup     ["Setup", ...] (retry included): the test could not start
//   error     anything else: false, a timeout, a network error
// Results of "check" tests (informational, true/Assertion) and of test ids
// the suite does not define are in no column.
// --failures then lists each of our rows' failed required tests.
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const args = process.argv.slice(2)
let suite = null
let failures = false
const rows = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--suite') suite = args[++i]
  else if (args[i] === '--failures') failures = true
  else if (args[i].includes('=')) {
    const at = args[i].indexOf('=')
    rows.push({ label: args[i].slice(0, at), file: args[i].slice(at + 1), ours: true })
  } else {
    console.error(`summarize: bad argument ${args[i]}`)
    process.exit(2)
  }
}
if (!suite) {
  console.error('usage: node summarize.mjs --suite DIR [--failures] label=results.json ...')
  process.exit(2)
}
const load = async file => (await import(pathToFileURL(path.resolve(file)).href)).default

// Every test the suite defines: the CLI runs tests/index.mjs plus
// tests/surrogate-control.mjs.
const kinds = new Map() // test id -> kind
for (const file of fs.readdirSync(path.join(suite, 'tests')).filter(f => f.endsWith('.mjs'))) {
  const mod = await load(path.join(suite, 'tests', file))
  for (const group of Array.isArray(mod) ? mod : [mod]) {
    for (const t of group?.tests ?? []) kinds.set(t.id, t.kind ?? 'required')
  }
}

function classify (kind, r) {
  if (r === true) return kind === 'check' ? null : 'pass'
  if (!Array.isArray(r)) return 'error'
  if (r[0] === 'Setup') return 'setup'
  if (r[0] !== 'Assertion') return 'error'
  return { required: 'fail', optimal: 'optfail' }[kind] ?? null
}

function read (file) {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8'))
    if (r && typeof r === 'object' && Object.keys(r).length) return r
  } catch {}
  return null
}

const index = await load(path.join(suite, 'results', 'index.mjs'))
for (const p of index.filter(p => p.type !== 'browser')) {
  rows.push({ label: `${p.name} ${p.version} (published)`, file: path.join(suite, 'results', p.file) })
}

const version = JSON.parse(fs.readFileSync(path.join(suite, 'package.json'), 'utf8')).version
console.log(`Suite: http-cache-tests ${version} (npm)\n`)
console.log('| subject | pass | fail | opt-fail | setup | error |')
console.log('|---|---:|---:|---:|---:|---:|')
for (const row of rows) {
  row.results = read(row.file)
  if (!row.results) {
    console.log(`| ${row.label} | no results (see the .cli.log) | | | | |`)
    continue
  }
  const n = { pass: 0, fail: 0, optfail: 0, setup: 0, error: 0 }
  for (const [id, r] of Object.entries(row.results)) {
    const k = kinds.has(id) && classify(kinds.get(id), r)
    if (k) n[k]++
  }
  console.log(`| ${row.label} | ${n.pass} | ${n.fail} | ${n.optfail} | ${n.setup} | ${n.error} |`)
}

if (failures) {
  for (const row of rows.filter(r => r.ours && r.results)) {
    const failed = Object.entries(row.results).filter(([id, r]) => kinds.has(id) && classify(kinds.get(id), r) === 'fail')
    console.log(`\n${row.label}: ${failed.length} required failures\n`)
    for (const [id, r] of failed) console.log(`- \`${id}\`: ${r[1]}`)
  }
}
