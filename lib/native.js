'use strict'
// Finds the compiled core. A source build leaves `ipos.<platform>.node` in the package root, so
// that is tried first; then the prebuilt platform package `ipos-<platform>` that npm installed as
// an optional dependency. Hand-written rather than napi's generated loader so that a miss is one
// `ERR_IPOS_NATIVE` error naming the platform, every place looked at and how to build.

const fs = require('fs')
const path = require('path')
const pkg = require('../package.json')
const { libc, platformNames } = require('./platform')

const ROOT = path.join(__dirname, '..')

/** Where the sources live, for the build-from-source hint. */
function repository() {
  const url = pkg.repository && (pkg.repository.url || pkg.repository)
  return typeof url === 'string' ? url.replace(/^git\+/, '') : 'the ipos repository'
}

/** The first line of a load error: the reason, without Node's require stack. */
function describe(e) {
  return String((e && e.message) || e).split('\n')[0]
}

/** Loads the binding or throws `ERR_IPOS_NATIVE` listing what was tried. */
function load() {
  const names = platformNames()
  const tried = []
  for (const name of names) {
    const file = path.join(ROOT, `${pkg.napi.binaryName}.${name}.node`)
    if (!fs.existsSync(file)) {
      tried.push(`${file}: not found`)
      continue
    }
    try {
      return require(file)
    } catch (e) {
      tried.push(`${file}: ${describe(e)}`)
    }
  }
  for (const name of names) {
    const id = `${pkg.name}-${name}`
    let entry
    try {
      entry = require.resolve(id)
    } catch {
      tried.push(`package ${id}: not installed`)
      continue
    }
    // The binary must match the JS front it serves: frames and the binding change together.
    const version = require(`${id}/package.json`).version
    if (version !== pkg.version) {
      tried.push(`package ${id}: version ${version}, but ${pkg.name} is ${pkg.version}`)
      continue
    }
    try {
      return require(entry)
    } catch (e) {
      tried.push(`package ${id} (${entry}): ${describe(e)}`)
    }
  }
  const prebuilt = Object.keys(pkg.optionalDependencies || {}).map((n) => n.slice(pkg.name.length + 1))
  const err = new Error(
    `ipos has no native binary for platform ${process.platform}, arch ${process.arch}, ` +
      `libc ${libc() || 'n/a'}. Tried:\n  ${tried.join('\n  ')}\n` +
      `Prebuilt binaries are published for: ${prebuilt.join(', ') || 'none'}. ` +
      'If npm skipped optional dependencies (--omit=optional, --no-optional), reinstall without that flag. ' +
      `To build from source (Rust toolchain required): clone ${repository()}, run \`npm install\` in it ` +
      `(it builds ${pkg.napi.binaryName}.${names[0]}.node), then install that directory, or copy that file next to ` +
      `${path.join(ROOT, 'package.json')}.`,
  )
  err.code = 'ERR_IPOS_NATIVE'
  err.platform = process.platform
  err.arch = process.arch
  err.libc = libc()
  err.tried = tried
  throw err
}

module.exports = load()
