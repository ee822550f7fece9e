'use strict'
// `NODE_DEBUG=ipos` prints what ipos does (links, handshakes, frames in and out with their sizes,
// rejections) through util.debuglog, the Node convention. Off, each call is one boolean check.

const util = require('util')

let log = util.debuglog('ipos', (fn) => { log = fn })

/** Logs when NODE_DEBUG includes ipos; `parts` are only formatted then. */
function debug(...parts) {
  log(...parts)
}

debug.enabled = util.debuglog('ipos').enabled

/** A short name for a link in log lines. */
function linkName(link) {
  if (link.isParent) return 'parent'
  const t = link.target
  const pid = t && (t.pid || (t.process && t.process.pid) || t.threadId)
  return pid ? `child ${pid}` : 'child'
}

module.exports = { debug, linkName }
