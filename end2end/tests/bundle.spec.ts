import { test, expect } from "@playwright/test";
import { request as httpRequest } from "node:http";
import { hydrated, signIn } from "./helpers";

// What a browser downloads for the first page, the sign-in page (every other page needs a
// session): the HTML and every /pkg/ asset it links (wasm, JS glue, CSS, the same for every
// page), as the server sends them with no, gzip and brotli encoding.
// The budget is 150 KB brotli in total. Rollgate renders in islands mode: pages are server HTML
// and only the interactive parts (#[island]) are in the wasm; the islands only some pages use
// are lazy (`cargo leptos --split`), so they are not in the first page's download.

const BUDGET_BROTLI = 150 * 1000;

function fetchBytes(url: string, encoding: string): Promise<{ bytes: number; body: Buffer; encoding: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { "accept-encoding": encoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ bytes: body.length, body, encoding: String(res.headers["content-encoding"] ?? "identity") });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

test("first-page download stays within the brotli budget", async ({ baseURL }) => {
  const page = `${baseURL}/sign-in`;
  const html = (await fetchBytes(page, "identity")).body.toString("utf8");
  const assets = [...new Set([...html.matchAll(/["'](\/pkg\/[^"']+)["']/g)].map((m) => m[1]))];
  expect(assets.some((a) => a.endsWith(".wasm"))).toBe(true);
  expect(assets.some((a) => a.endsWith(".js"))).toBe(true);
  expect(assets.some((a) => a.endsWith(".css"))).toBe(true);

  const rows: { file: string; raw: number; gzip: number; br: number }[] = [];
  for (const path of ["/sign-in", ...assets]) {
    const url = `${baseURL}${path}`;
    const [raw, gzip, br] = await Promise.all(["identity", "gzip", "br"].map((e) => fetchBytes(url, e)));
    expect(gzip.encoding).toBe("gzip");
    expect(br.encoding).toBe("br");
    rows.push({ file: path.replace(/\.[0-9A-Za-z_-]{10,}\./, ".<hash>."), raw: raw.bytes, gzip: gzip.bytes, br: br.bytes });
  }
  const total = rows.reduce((t, r) => ({ raw: t.raw + r.raw, gzip: t.gzip + r.gzip, br: t.br + r.br }), { raw: 0, gzip: 0, br: 0 });
  console.log("first page download (bytes):");
  for (const r of [...rows, { file: "total", ...total }]) {
    console.log(`  ${r.file.padEnd(34)} raw ${String(r.raw).padStart(9)}  gzip ${String(r.gzip).padStart(8)}  br ${String(r.br).padStart(8)}`);
  }
  expect(total.br).toBeLessThan(BUDGET_BROTLI);

  // Hashed assets are immutable for a year; the page itself is not cached that way.
  const wasm = assets.find((a) => a.endsWith(".wasm"))!;
  const head = await fetch(`${baseURL}${wasm}`);
  expect(head.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  expect(head.headers.get("content-type")).toBe("application/wasm");
});

// What each area's page downloads from /pkg/ in a real browser once signed in: the wasm, its
// JS and CSS, and whatever a page loads on its own, all measured as the server sends them
// with brotli. Each page is opened in a fresh context (an empty cache), as a first visit.
// 150 KB each, the same budget as the first page's.
const AREA_PAGES: [string, number][] = [
  ["/overview", 150_000],
  ["/overview/compare?app=myapp-deployment&left=staging&right=production", 150_000],
  ["/staging/delivery?days=90", 150_000],
  ["/staging/pipelines", 150_000],
  ["/staging/pipelines/myapp-staging", 150_000],
  ["/staging/deployments", 150_000],
  ["/staging/deployments/staging/myapp-deployment", 150_000],
  ["/staging/deployments/staging/myapp-deployment/logs", 150_000],
  ["/staging/tokens", 150_000],
  ["/staging/approvals", 150_000],
  ["/staging/audit", 150_000],
];

test("each area's page downloads within its brotli budget", async ({ browser, baseURL }) => {
  test.setTimeout(120_000);
  console.log("area pages, /pkg/ downloads (brotli bytes):");
  for (const [path, budget] of AREA_PAGES) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, "viewer");
    const assets = new Set<string>();
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith("/pkg/")) assets.add(url.pathname);
    });
    await page.goto(path);
    // Every island, lazy or not, is hydrated by then (the page marks itself after the last).
    await hydrated(page);
    const sizes = await Promise.all([...assets].map(async (a) => (await fetchBytes(`${baseURL}${a}`, "br")).bytes));
    const total = sizes.reduce((t, n) => t + n, 0);
    console.log(`  ${path.padEnd(54)} ${String(total).padStart(8)} (${assets.size} files)`);
    expect(assets.size, path).toBeGreaterThan(0);
    expect(total, path).toBeLessThan(budget);
    await context.close();
  }
});
