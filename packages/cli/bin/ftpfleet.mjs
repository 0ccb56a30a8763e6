#!/usr/bin/env node
// The ftpfleet command runs its TypeScript sources through tsx's loader: no build step, the same
// code the tests run.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
