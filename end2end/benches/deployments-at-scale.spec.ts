import { test, expect, type Page } from "@playwright/test";
import { signIn } from "../tests/helpers";
import { call, cluster, memory, renderers, scale, summary, untilShown, type Cluster } from "./support";

// The Deployments page with 2,000 deployments of 10 replicas (20,000 pods) in one environment,
// run by scripts/bench/browser.sh deployments-at-scale (the cluster in its own process). Targets
// (issue 18): navigation → first rows visible and interactive < 1 s p95; filter and sort
// < 100 ms; a scale made through the cluster API on screen < 250 ms p95; the page's memory in
// the browser < 100 MB; Rollgate's < 150 MB.

const NAMESPACES = 10;
const DEPLOYMENTS = 2_000;
const REPLICAS = 10;
const LOADS = 9;
const SAMPLES = 15;
const name = (i: number) => `bench-${String(i).padStart(4, "0")}`;
const namespace = (i: number) => `bench-${i % NAMESPACES}`;

async function fill(c: Cluster) {
  for (let n = 0; n < NAMESPACES; n++) {
    await call(c, "POST", "/api/v1/namespaces", { metadata: { name: `bench-${n}` } }).catch((e) => {
      if (e.status !== 409) throw e;
    });
  }
  const template = await call(c, "GET", "/apis/apps/v1/namespaces/staging/deployments/checkout-api");
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < DEPLOYMENTS; i = next++) {
      await call(c, "POST", `/apis/apps/v1/namespaces/${namespace(i)}/deployments`, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: name(i) },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: { app: name(i) } },
          template: { metadata: { labels: { app: name(i) } }, spec: template.spec.template.spec },
        },
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  for (let tries = 0; ; tries++) {
    let available = 0;
    let pods = 0;
    for (let n = 0; n < NAMESPACES; n++) {
      const list = await call(c, "GET", `/apis/apps/v1/namespaces/bench-${n}/deployments`);
      available += list.items.filter((d: any) => d.status?.availableReplicas === REPLICAS).length;
      pods += list.items.reduce((sum: number, d: any) => sum + (d.status?.readyReplicas ?? 0), 0);
    }
    if (available === DEPLOYMENTS) return pods;
    if (tries > 600) throw new Error(`only ${available} of ${DEPLOYMENTS} rolled out`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Times one navigation: to the first row on screen, to the page hydrated, to every row held. */
async function load(page: Page): Promise<{ visible: number; hydrated: number; held: number }> {
  const started = Date.now();
  await page.goto("/staging/deployments", { waitUntil: "commit" });
  await page.locator("tr[data-deployment]").first().waitFor();
  const visible = Date.now() - started;
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true", { timeout: 120_000 });
  const at = Date.now() - started;
  // The table marks when it holds every row (the stream's first snapshot); before the
  // virtualized table, hydrating meant holding them all.
  const marked = page.locator("table.deployments[data-held]");
  if ((await marked.count()) > 0) await expect(marked).toHaveAttribute("data-held", "all", { timeout: 30_000 });
  return { visible, hydrated: at, held: Date.now() - started };
}

test("the Deployments page with 2,000 deployments and 20,000 pods", async ({ page }) => {
  test.setTimeout(900_000);
  const c = cluster();
  const fillStarted = Date.now();
  const pods = await fill(c);
  console.log(`cluster filled: ${DEPLOYMENTS} deployments, ${pods} pods ready in ${(Date.now() - fillStarted) / 1000} s`);
  const rollgate = Number(process.env.ROLLGATE_PID);

  await signIn(page, "viewer");
  const loads = [];
  for (let i = 0; i < LOADS; i++) loads.push(await load(page));
  // The first load starts the server's watches; the rest are what a visitor meets.
  const warm = loads.slice(1);
  console.log(summary("navigation → first row visible", warm.map((l) => l.visible)));
  console.log(summary("navigation → page hydrated", warm.map((l) => l.hydrated)));
  console.log(summary("navigation → every row held", warm.map((l) => l.held)));
  const shown = await page.locator("tr[data-deployment]").count();
  console.log(`rows in the document: ${shown}`);

  const search = page.getByRole("searchbox");
  const filter: number[] = [];
  const sort: number[] = [];
  const live: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const wanted = name((i * 137) % DEPLOYMENTS);
    filter.push(await untilShown(page, { rows: 1 }, () => search.fill(wanted)));
    await search.fill("");
    await expect(page.locator("tr[data-deployment]")).not.toHaveCount(1);
    // Name order puts bench-0/bench-0000 first; worst health first puts a degraded demo
    // deployment there.
    const byName = i % 2 === 1;
    sort.push(
      await untilShown(page, { first: "bench-0/bench-0000", is: byName }, () =>
        page.getByLabel("Sort by").selectOption(byName ? "name" : "health").then(() => {}),
      ),
    );
  }
  await page.getByLabel("Sort by").selectOption("name");
  for (let i = 0; i < SAMPLES; i++) {
    const n = (i * 211 + 5) % DEPLOYMENTS;
    await search.fill(name(n));
    await expect(page.locator("tr[data-deployment]")).toHaveCount(1);
    const replicas = REPLICAS + 1 + (i % 2);
    live.push(
      await untilShown(page, { selector: `tr[data-deployment="${namespace(n)}/${name(n)}"] .counts[data-desired="${replicas}"]` }, () =>
        scale(c, replicas, name(n), namespace(n)),
      ),
    );
  }
  await search.fill("");
  console.log(summary("filter keystroke → the one matching row alone", filter));
  console.log(summary("sort change → new first row", sort));
  console.log(summary("scale request → desired count on screen", live));

  // Memory once the page has been used: scrolled end to end, then settled and collected.
  for (let y = 0; y < 20; y++) {
    await page.mouse.wheel(0, 4_000);
    await page.waitForTimeout(50);
  }
  await page.waitForTimeout(2_000);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("Performance.enable");
  const metrics = Object.fromEntries(
    ((await cdp.send("Performance.getMetrics")).metrics as { name: string; value: number }[]).map((m) => [m.name, m.value]),
  );
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  console.log(
    `browser: JS heap ${mb(metrics.JSHeapUsedSize)} MB used of ${mb(metrics.JSHeapTotalSize)} MB, ${metrics.Nodes} DOM nodes`,
  );
  for (const pid of renderers()) {
    const m = memory(pid);
    console.log(`browser renderer ${pid}: ${m.rss.toFixed(0)} MB resident (peak ${m.peak.toFixed(0)}), ${m.private.toFixed(0)} MB private`);
  }
  if (rollgate) {
    const m = memory(rollgate);
    console.log(`rollgate: ${m.rss.toFixed(0)} MB resident (peak ${m.peak.toFixed(0)}), ${m.private.toFixed(0)} MB private`);
  }
  expect(shown).toBeGreaterThan(0);
});
