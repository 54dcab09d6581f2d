#!/usr/bin/env node
'use strict';
// SIGINT/SIGTERM mean "stop, exit 0" from the first moment: loading the
// program takes a few hundred milliseconds, during which Node's default
// would kill the process (status 130/143). Signals seen until the command
// line has installed its own handlers are kept and handed over to it.
const early = [];
const keep = (sig) => early.push(sig);
process.on('SIGINT', keep);
process.on('SIGTERM', keep);
require('../dist/src/cli.js').run({
  signals: early,
  release: () => {
    process.off('SIGINT', keep);
    process.off('SIGTERM', keep);
  },
});
