import { test, expect } from "@playwright/test";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { signIn, hydrated } from "../tests/helpers";

// Event-to-screen latency: from a change committed in the sandbox cluster to the Deployments
// page in Chromium showing it (the row's progress bar and counts), through Rollgate's shared
// watch and its server-sent events. Each sample scales a deployment through the cluster API
// (as kubectl would) and waits for the new desired count on screen.
// Target: p95 under 250 ms. The README's "Measurements" lists the latest figures.

const SAMPLES = 40;
const KUBECONFIG = process.env.ROLLGATE_SANDBOX_KUBECONFIG ?? "/tmp/rollgate-sandbox/kubeconfig";

function cluster() {
  const text = readFileSync(KUBECONFIG, "utf8");
  const field = (name: string) => text.match(new RegExp(`${name}: (\\S+)`))![1];
  return {
    server: new URL(field("server")),
    ca: Buffer.from(field("certificate-authority-data"), "base64"),
    token: field("token"),
  };
}

function scale(c: ReturnType<typeof cluster>, replicas: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ spec: { replicas } });
    const req = httpsRequest(
      {
        host: c.server.hostname,
        port: c.server.port,
        method: "PATCH",
        path: "/apis/apps/v1/namespaces/staging/deployments/checkout-api/scale",
        ca: c.ca,
        headers: {
          authorization: `Bearer ${c.token}`,
          "content-type": "application/merge-patch+json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`scale: ${res.statusCode}`))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

test("event-to-screen latency of the Deployments page", async ({ page }) => {
  const c = cluster();
  await signIn(page, "viewer");
  await page.goto("/staging/deployments");
  await hydrated(page);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const replicas = 3 + (i % 2);
    // Resolves with the time the row shows the new desired count.
    const shown = page.evaluate((replicas) => {
      return new Promise<number>((resolve) => {
        const seen = () =>
          document.querySelector(`tr[data-deployment="staging/checkout-api"] .counts[data-desired="${replicas}"]`);
        if (seen()) return resolve(Date.now());
        const observer = new MutationObserver(() => {
          if (seen()) {
            observer.disconnect();
            resolve(Date.now());
          }
        });
        observer.observe(document.body, { subtree: true, childList: true, attributes: true });
      });
    }, replicas);
    await page.waitForTimeout(50);
    const sent = Date.now();
    await scale(c, replicas);
    samples.push((await shown) - sent);
    await page.waitForTimeout(400);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  console.log(`event-to-screen over ${SAMPLES} changes (ms): median ${at(0.5)}, p95 ${at(0.95)}, max ${samples[samples.length - 1]}`);
  expect(samples.length).toBe(SAMPLES);
});
