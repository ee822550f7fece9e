'use strict'
// Public entry: `require('ipos')`, `import IPOS from 'ipos'`, `import { IPOS } from 'ipos'`.
const { IPOS } = require('./lib/ipos')

module.exports = IPOS
module.exports.IPOS = IPOS
module.exports.default = IPOS
