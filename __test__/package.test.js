'use strict'
// The package as a user gets it: `npm pack` the main package and this platform's binary package,
// install both tarballs into a scratch project where neither cargo nor napi is on PATH, and run
// the README quick start there in ESM and in CJS; compile a consumer against the typings; then
// take the platform package away and check the ERR_IPOS_NATIVE report.
const { test, before, after } = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawnSync } = require('child_process')
const { platformNames } = require('../lib/platform')

const ROOT = path.join(__dirname, '..')
const PKG = require('../package.json')
const NAME = platformNames()[0]
const PLATFORM_PKG = `${PKG.name}-${NAME}`
const BINARY = `${PKG.napi.binaryName}.${NAME}.node`

// A PATH with node and npm but neither Rust nor the napi CLI.
const CLEAN_PATH = [...new Set([path.dirname(process.execPath), '/usr/bin', '/bin'])].join(path.delimiter)
let tmp
let env

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 60000 })
  assert.strictEqual(r.status, 0, `${cmd} ${args.join(' ')} in ${cwd}\n${r.stdout}\n${r.stderr}${r.error || ''}`)
  return r
}

/** `npm pack` of `dir` into tmp/tgz; returns the tarball path and what it holds. */
function pack(dir, extra = []) {
  const r = run('npm', ['pack', '--json', '--pack-destination', path.join(tmp, 'tgz'), ...extra], dir)
  const [info] = JSON.parse(r.stdout)
  return { file: path.join(tmp, 'tgz', info.filename), files: info.files.map((f) => f.path).sort() }
}

/**
 * Tarballs of the package's runtime dependencies, packed from node_modules: the scratch installs
 * are offline with an empty cache, so the registry cannot supply them.
 */
function dependencyTarballs() {
  const out = []
  const seen = new Set()
  const walk = (deps) => {
    for (const name of Object.keys(deps || {})) {
      if (seen.has(name)) continue
      seen.add(name)
      const dir = path.join(ROOT, 'node_modules', name)
      out.push(pack(dir, ['--ignore-scripts']).file)
      walk(require(path.join(dir, 'package.json')).dependencies)
    }
  }
  walk(PKG.dependencies)
  return out
}

function scratch(name, tarballs) {
  const dir = path.join(tmp, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  const r = run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], dir)
  assert.doesNotMatch(r.stderr, /not found|cargo|ERR!/, r.stderr)
  return dir
}

let main
let platform
let app
let deps

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipos-pack-'))
  fs.mkdirSync(path.join(tmp, 'tgz'))
  env = {
    PATH: CLEAN_PATH,
    HOME: path.join(tmp, 'home'),
    npm_config_cache: path.join(tmp, 'npm-cache'),
    npm_config_update_notifier: 'false',
    TMPDIR: os.tmpdir(),
  }
  for (const dir of CLEAN_PATH.split(path.delimiter)) {
    for (const tool of ['cargo', 'rustc', 'napi']) {
      assert.ok(!fs.existsSync(path.join(dir, tool)), `${tool} is in ${dir}, which the scratch PATH needs`)
    }
  }
  // --ignore-scripts: `prepare` would rebuild the addon; the binary is already built by `npm install`.
  main = pack(ROOT, ['--ignore-scripts'])
  const platformDir = path.join(ROOT, 'npm', NAME)
  assert.ok(fs.existsSync(platformDir), `no platform package npm/${NAME}: add its target to napi.targets and run \`napi create-npm-dirs\``)
  const staged = path.join(tmp, 'platform')
  fs.cpSync(platformDir, staged, { recursive: true })
  fs.copyFileSync(path.join(ROOT, BINARY), path.join(staged, BINARY))
  platform = pack(staged)
  deps = dependencyTarballs()
  app = scratch('app', [main.file, platform.file, ...deps])
})

after(() => fs.rmSync(tmp, { recursive: true, force: true }))

test('the main tarball holds the JS front, typings, README and LICENSE, nothing else', () => {
  for (const f of main.files) {
    assert.match(f, /^(LICENSE|README\.md|package\.json|index\.(js|mjs|d\.ts)|lib\/[a-z]+\.js)$/, `${f} should not ship`)
  }
  for (const f of ['LICENSE', 'README.md', 'package.json', 'index.js', 'index.mjs', 'index.d.ts', 'lib/native.js', 'lib/ipos.js']) {
    assert.ok(main.files.includes(f), `${f} is missing from the tarball`)
  }
  assert.deepStrictEqual(platform.files, ['LICENSE', 'README.md', BINARY, 'package.json'].sort())
  const installed = require(path.join(app, 'node_modules', PLATFORM_PKG, 'package.json'))
  assert.strictEqual(installed.version, PKG.version)
  assert.strictEqual(PKG.optionalDependencies[PLATFORM_PKG], PKG.version)
  assert.ok(!('install' in PKG.scripts) && !('postinstall' in PKG.scripts) && !('preinstall' in PKG.scripts))
})

const QUICK_START = {
  // The README quick start, plus prints of what each side saw and which binary was loaded.
  main: (importIpos) => `${importIpos}
const ipos = IPOS.new()
ipos.create('users', new Map([['ada', { name: 'Ada', langs: ['en'] }]]))
const sub = child_process.spawn(process.execPath, [SUB], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] })
await ipos.addProcess(sub)
const heard = new Promise((resolve) => ipos.on('change', (ev) => { if (!ev.local) resolve(ev) }))
ipos.users.set('grace', { name: 'Grace', langs: ['en'] })
const ev = await heard
const binary = process.report.getReport().sharedObjects.find((f) => f.endsWith('.node'))
console.log('main saw ' + JSON.stringify({ ev, ada: ipos.users.get('ada'), binary }))
ipos.close()
`,
  sub: (importIpos) => `${importIpos}
const ipos = await IPOS.new()
const first = [...ipos.users.keys()]
ipos.on('change', ({ key, path }) => {
  if (key !== 'users' || path[0] !== 'grace') return
  console.log('sub saw ' + JSON.stringify({ first, grace: ipos.users.get('grace') }))
  ipos.users.get('ada').langs.push('fr')
  ipos.flush().then(() => ipos.close())
})
`,
}

for (const style of ['esm', 'cjs']) {
  test(`the installed package runs the quick start (${style}): main and sub-process see each other's changes`, () => {
    const ext = style === 'esm' ? 'mjs' : 'cjs'
    const importIpos = style === 'esm'
      ? "import child_process from 'child_process'\nimport IPOS from 'ipos'\nconst SUB = new URL('./sub.mjs', import.meta.url).pathname"
      : "const child_process = require('child_process')\nconst IPOS = require('ipos')\nconst SUB = __dirname + '/sub.cjs'"
    const wrap = (body) => (style === 'esm' ? body : `;(async () => {\n${body}\n})()`)
    fs.writeFileSync(path.join(app, `main.${ext}`), wrap(QUICK_START.main(importIpos)))
    fs.writeFileSync(path.join(app, `sub.${ext}`), wrap(QUICK_START.sub(importIpos)))
    const out = run(process.execPath, [`main.${ext}`], app).stdout.trim().split('\n')
    assert.strictEqual(out.length, 2, out.join('\n'))
    const [sub, main] = out.map((line) => JSON.parse(line.replace(/^(sub|main) saw /, '')))
    assert.ok(out[0].startsWith('sub saw '), out.join('\n'))
    assert.deepStrictEqual(sub, { first: ['ada'], grace: { name: 'Grace', langs: ['en'] } })
    assert.deepStrictEqual(main.ev, { key: 'users', path: ['ada', 'langs'], kind: 'splice', local: false })
    assert.deepStrictEqual(main.ada, { name: 'Ada', langs: ['en', 'fr'] })
    assert.strictEqual(main.binary, path.join(fs.realpathSync(app), 'node_modules', PLATFORM_PKG, BINARY))
  })
}

test('ioredis is optional: the installed package has no runtime dependency, and IPOS.new({ redis }) without it says what to install', () => {
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'ioredis')), 'npm i ipos does not pull ioredis')
  fs.writeFileSync(path.join(app, 'redis.cjs'), `require('ipos').new({ redis: 'redis://127.0.0.1:1' }).then(
  () => console.log('resolved'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`)
  const out = JSON.parse(run(process.execPath, ['redis.cjs'], app).stdout)
  assert.strictEqual(out.code, 'ERR_IPOS_NO_REDIS_CLIENT')
  assert.match(out.message, /npm i ioredis/)
})

test('the typings compile in a consumer with tsc --strict (CJS and ESM imports)', () => {
  const consumer = (importIpos) => `${importIpos}
import { fork } from 'child_process'

interface User { name: string; langs: string[] }
type Fields = { users: Map<string, User>; hits: number }

export async function start(): Promise<number> {
  const ipos = IPOS.new<Fields>({ syncTimeout: 200, functions: false, maxFrameBytes: 1 << 20, maxDepth: 64 })
  await ipos.addProcess(fork('sub.js'))
  ipos.create('users', new Map())
  const ada: User | undefined = ipos.users.get('ada')
  ipos.on('change', (ev: IPOS.ChangeEvent<'users' | 'hits'>) => {
    const key: 'users' | 'hits' = ev.key
    const local: boolean = ev.local
    void key; void local; void ev.path
  })
  ipos.on('error', (err) => { const code: IPOS.ErrorCode = err.code; void code })
  try {
    ipos.create('hits', 1)
  } catch (e) {
    if ((e as IPOS.IposError).code === 'ERR_IPOS_NATIVE') throw e
  }
  await ipos.flush()
  // @ts-expect-error a field keeps its declared type
  ipos.hits = 'many'
  // @ts-expect-error options are checked
  IPOS.new({ syncTimeout: 'soon' })
  ipos.close()
  return (ada ? ada.langs.length : 0) + ipos.hits
}
`
  fs.writeFileSync(path.join(app, 'consumer.cts'), consumer("import IPOS = require('ipos')"))
  fs.writeFileSync(path.join(app, 'consumer.mts'), consumer("import IPOS from 'ipos'"))
  const tsc = require.resolve('typescript/bin/tsc')
  const types = path.join(ROOT, 'node_modules', '@types')
  run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022',
    '--typeRoots', types, '--types', 'node', 'consumer.cts', 'consumer.mts'], app)
})

test('without a binary for the platform, require and import throw ERR_IPOS_NATIVE saying what was tried', () => {
  // npm with --omit=optional, or a platform no prebuilt package covers: only the JS package.
  const bare = scratch('bare', [main.file, ...deps])
  assert.ok(!fs.existsSync(path.join(bare, 'node_modules', PLATFORM_PKG)))
  const probe = `try { require('ipos'); console.log('loaded') } catch (e) {
    console.log(JSON.stringify({ code: e.code, name: e.name, message: e.message, tried: e.tried }))
  }`
  const report = () => JSON.parse(run(process.execPath, ['-e', probe], bare).stdout)
  const local = path.join(fs.realpathSync(bare), 'node_modules', 'ipos', BINARY)
  let r = report()
  assert.strictEqual(r.code, 'ERR_IPOS_NATIVE')
  assert.strictEqual(r.name, 'Error')
  assert.deepStrictEqual(r.tried, [`${local}: not found`, `package ${PLATFORM_PKG}: not installed`])
  for (const part of [`platform ${process.platform}`, `arch ${process.arch}`, `libc ${NAME.split('-')[2] || 'n/a'}`,
    ...r.tried, 'build from source', 'npm install']) {
    assert.ok(r.message.includes(part), `message lacks "${part}":\n${r.message}`)
  }
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', "import IPOS from 'ipos'"], { cwd: bare, env, encoding: 'utf8' })
  assert.strictEqual(esm.status, 1)
  assert.match(esm.stderr, /code: 'ERR_IPOS_NATIVE'/)
  assert.ok(esm.stderr.includes(`${local}: not found`), esm.stderr)

  // A platform package of another version and a local file that is no binary are refused, each with its reason.
  const stale = path.join(bare, 'node_modules', PLATFORM_PKG)
  fs.mkdirSync(stale)
  fs.writeFileSync(path.join(stale, 'package.json'), JSON.stringify({ name: PLATFORM_PKG, version: '0.0.1', main: BINARY }))
  fs.copyFileSync(path.join(ROOT, BINARY), path.join(stale, BINARY))
  fs.writeFileSync(local, 'not a shared object')
  r = report()
  assert.strictEqual(r.code, 'ERR_IPOS_NATIVE')
  assert.strictEqual(r.tried.length, 2)
  assert.match(r.tried[0], new RegExp(`^${local.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*(invalid ELF|too short|not a valid|file)`, 'i'))
  assert.strictEqual(r.tried[1], `package ${PLATFORM_PKG}: version 0.0.1, but ipos is ${PKG.version}`)

  // The local file next to the package wins once it is a real binary (the build-from-source path).
  fs.copyFileSync(path.join(ROOT, BINARY), local)
  assert.strictEqual(run(process.execPath, ['-e', probe], bare).stdout.trim(), 'loaded')
})
