'use strict'
// Names the platform the way napi-rs names its binaries and platform packages.

const fs = require('fs')

/** `'gnu'` or `'musl'` on Linux, `null` elsewhere. */
function libc() {
  if (process.platform !== 'linux') return null
  try {
    // glibc's ldd is a script that names glibc; musl's mentions musl. Cheaper than a report.
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl') ? 'musl' : 'gnu'
  } catch {
    const report = process.report && process.report.getReport()
    return report && report.header && report.header.glibcVersionRuntime ? 'gnu' : 'musl'
  }
}

/**
 * The napi-rs platform names (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, …) a binary for
 * this process may be published under, best first. They are the suffix of both the local file
 * `ipos.<name>.node` and the package `ipos-<name>`.
 */
function platformNames(platform = process.platform, arch = process.arch, c = libc()) {
  const base = `${platform}-${arch}`
  switch (platform) {
    case 'linux':
      if (arch === 'arm') return [`${base}-${c}eabihf`]
      return [`${base}-${c}`]
    case 'win32':
      return arch === 'x64' ? [`${base}-msvc`, `${base}-gnu`] : [`${base}-msvc`]
    case 'darwin':
      return [base, 'darwin-universal']
    case 'android':
      return arch === 'arm' ? [`${base}-eabi`] : [base]
    default:
      return [base]
  }
}

module.exports = { libc, platformNames }
