'use strict'
// After `napi build --platform`: copies `ipos.<platform>.node` into its platform package
// (`npm/<platform>/`), where `npm pack` there picks it up, as `napi artifacts` does in a release.
// The copy is a build output (ignored by git, like the file it copies).
const fs = require('fs')
const path = require('path')
const { platformNames } = require('../lib/platform')

const root = path.join(__dirname, '..')
for (const name of platformNames()) {
  const built = path.join(root, `ipos.${name}.node`)
  const dir = path.join(root, 'npm', name)
  if (fs.existsSync(built) && fs.existsSync(dir)) {
    fs.copyFileSync(built, path.join(dir, `ipos.${name}.node`))
    console.log(`placed ipos.${name}.node in npm/${name}/`)
  }
}
