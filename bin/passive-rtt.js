#!/usr/bin/env node
require('../dist/src/cli.js').run();
