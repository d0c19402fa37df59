import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// Benchmarks, not tests: run by hand (`scripts/bench/event-to-screen.sh`), never by the test
// command. Same browser and server set-up as the browser tests.
export default defineConfig({ ...base, testDir: "./benches", timeout: 180_000 });
