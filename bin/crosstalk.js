#!/usr/bin/env node
import '../dist/crosstalk.js';
