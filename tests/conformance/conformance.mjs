// The official fal client (@fal-ai/client 1.10.1) against lipsyncd's fal emulator. Every check
// here is something the real fal.ai does for this client; if the emulator drifts from fal's
// protocol, this script fails. Run by run-conformance.sh (which starts the emulator).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";

import { ApiError, ValidationError, createFalClient } from "@fal-ai/client";

const emulatorUrl = process.env.EMULATOR_URL;
const mediaDir = process.env.MEDIA_DIR;
const scratchDir = process.env.SCRATCH_DIR;
const requestLog = process.env.REQUEST_LOG;
assert.ok(emulatorUrl && mediaDir && scratchDir && requestLog, "run through run-conformance.sh");

// The client's own configuration point: rewrite fal's hosts to the emulator. Uploads and file
// downloads then follow the URLs the emulator returned, without the middleware.
const fal = createFalClient({
  credentials: process.env.EMULATOR_KEY,
  requestMiddleware: async (request) => ({
    ...request,
    url: request.url
      .replace(/^https:\/\/queue\.fal\.run/, emulatorUrl)
      .replace(/^https:\/\/rest\.fal\.ai/, emulatorUrl)
      .replace(/^https:\/\/fal\.run/, `${emulatorUrl}/_sync`),
  }),
});

const checks = [];
async function check(name, body) {
  const started = Date.now();
  await body();
  checks.push(name);
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const mediaBlob = (file, type) => new Blob([readFileSync(path.join(mediaDir, file))], { type });
const loggedRequests = () =>
  readFileSync(requestLog, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));

function probeDuration(file) {
  const out = execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration:stream=codec_name",
    "-of", "json", file]).toString();
  const probe = JSON.parse(out);
  return { duration: Number(probe.format.duration), codecs: probe.streams.map((s) => s.codec_name) };
}

async function downloadTo(url, file) {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  writeFileSync(file, bytes);
  return bytes;
}

const videoFile = "talk_h264_aac.mp4"; // 4.0 s
const audioFile = "speech_5s.wav"; // 4.53 s
const videoSeconds = probeDuration(path.join(mediaDir, videoFile)).duration;
const audioSeconds = probeDuration(path.join(mediaDir, audioFile)).duration;
const oneFrame = 1 / 25 + 0.025; // a frame at 25 fps, plus one AAC frame of slack

let videoUrl;
let audioUrl;

await check("storage.upload below the multipart threshold round-trips the bytes", async () => {
  const original = readFileSync(path.join(mediaDir, videoFile));
  videoUrl = await fal.storage.upload(mediaBlob(videoFile, "video/mp4"));
  assert.match(videoUrl, /^http:\/\/127\.0\.0\.1:\d+\/files\//);
  const downloaded = await downloadTo(videoUrl, path.join(scratchDir, "video-back.mp4"));
  assert.equal(sha256(downloaded), sha256(original));
  audioUrl = await fal.storage.upload(mediaBlob(audioFile, "audio/wav"));
  const log = loggedRequests();
  const initiate = log.filter((r) => r.path === "/storage/upload/initiate");
  assert.equal(initiate.length, 2);
  assert.equal(initiate[0].query, "storage_type=fal-cdn-v3");
  assert.ok(initiate[0].headers.includes("authorization"));
  const puts = log.filter((r) => r.method === "PUT" && r.path.startsWith("/_storage/upload/"));
  assert.equal(puts.length, 2);
  assert.ok(!puts[0].headers.includes("authorization"), "signed upload URLs carry no key");
  assert.equal(puts[0].body_bytes, original.length);
});

await check("storage.upload above the multipart threshold goes multipart and round-trips", async () => {
  // 95 MiB made on the fly from a real clip repeated: over the client's 90 MiB threshold.
  const clip = readFileSync(path.join(mediaDir, videoFile));
  const big = Buffer.alloc(95 * 1024 * 1024);
  for (let offset = 0; offset < big.length; offset += clip.length) clip.copy(big, offset);
  const url = await fal.storage.upload(new Blob([big], { type: "video/mp4" }));
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(big));
  const ranged = await fetch(url, { headers: { Range: "bytes=10-19" } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.get("content-range"), `bytes 10-19/${big.length}`);
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), big.subarray(10, 20));
  const log = loggedRequests();
  assert.equal(log.filter((r) => r.path === "/storage/upload/initiate-multipart").length, 1);
  const parts = log.filter((r) => r.method === "PUT" && /^\/_storage\/multipart\/\w+\/\d+$/.test(r.path));
  assert.equal(parts.length, 10, "95 MiB in 10 MiB parts");
  assert.equal(log.filter((r) => r.method === "POST" && r.path.endsWith("/complete")).length, 1);
});

await check("subscribe on fal-ai/sync-lipsync with logs returns a valid MP4 of the expected duration", async () => {
  const updates = [];
  const result = await fal.subscribe("fal-ai/sync-lipsync", {
    input: { video_url: videoUrl, audio_url: audioUrl, sync_mode: "loop" },
    logs: true,
    pollInterval: 200,
    onQueueUpdate: (update) => updates.push(update),
  });
  assert.ok(result.requestId);
  assert.equal(result.data.video.content_type, "video/mp4");
  const statuses = updates.map((u) => u.status);
  assert.ok(statuses.includes("IN_QUEUE"), `statuses seen: ${statuses}`);
  assert.ok(statuses.includes("IN_PROGRESS"), `statuses seen: ${statuses}`);
  const inProgress = updates.filter((u) => u.status === "IN_PROGRESS" && u.logs?.length > 0);
  assert.ok(inProgress.length > 0, "IN_PROGRESS carries logs with logs: true");
  assert.ok(inProgress.at(-1).logs.some((l) => /no lip movement is synthesized/.test(l.message)));
  const file = path.join(scratchDir, "subscribe-output.mp4");
  const bytes = await downloadTo(result.data.video.url, file);
  assert.equal(bytes.length, result.data.video.file_size);
  const probe = probeDuration(file);
  assert.deepEqual(probe.codecs.sort(), ["aac", "h264"]);
  const expected = Math.max(videoSeconds, audioSeconds);
  assert.ok(Math.abs(probe.duration - expected) <= oneFrame, `duration ${probe.duration}, expected ${expected}`);
});

await check("queue.submit / status / result on the /v2 sub-path; status and result drop the path", async () => {
  const submitted = await fal.queue.submit("fal-ai/sync-lipsync/v2", {
    input: { video_url: videoUrl, audio_url: audioUrl, sync_mode: "cut_off" },
    priority: "low",
    hint: "conformance-runner",
    startTimeout: 120,
  });
  assert.ok(submitted.request_id);
  assert.equal(submitted.status, "IN_QUEUE");
  assert.match(submitted.status_url, new RegExp(`/fal-ai/sync-lipsync/requests/${submitted.request_id}/status$`));
  const first = await fal.queue.status("fal-ai/sync-lipsync/v2", { requestId: submitted.request_id, logs: true });
  assert.equal(first.status, "IN_QUEUE");
  assert.equal(typeof first.queue_position, "number");
  let status = first;
  while (status.status !== "COMPLETED") {
    await new Promise((resolve) => setTimeout(resolve, 200));
    status = await fal.queue.status("fal-ai/sync-lipsync/v2", { requestId: submitted.request_id, logs: true });
  }
  assert.ok(Array.isArray(status.logs) && status.logs.length > 0);
  const result = await fal.queue.result("fal-ai/sync-lipsync/v2", { requestId: submitted.request_id });
  assert.equal(result.requestId, submitted.request_id);
  const file = path.join(scratchDir, "queue-output.mp4");
  await downloadTo(result.data.video.url, file);
  const expected = Math.min(videoSeconds, audioSeconds);
  const duration = probeDuration(file).duration;
  assert.ok(Math.abs(duration - expected) <= oneFrame, `duration ${duration}, expected ${expected}`);

  const log = loggedRequests();
  const submit = log.find((r) => r.request_id === submitted.request_id);
  assert.equal(submit.path, "/fal-ai/sync-lipsync/v2");
  assert.equal(submit.header_values["x-fal-queue-priority"], "low");
  assert.equal(submit.header_values["x-fal-runner-hint"], "conformance-runner");
  assert.equal(submit.header_values["x-fal-request-timeout"], "120");
  assert.ok(log.some((r) => r.path === `/fal-ai/sync-lipsync/requests/${submitted.request_id}/status` && r.query === "logs=1"));
  assert.ok(log.some((r) => r.path === `/fal-ai/sync-lipsync/requests/${submitted.request_id}`));
  assert.ok(!log.some((r) => r.path.startsWith("/fal-ai/sync-lipsync/v2/requests")));

  await assert.rejects(fal.queue.cancel("fal-ai/sync-lipsync", { requestId: submitted.request_id }), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.deepEqual(error.body, { status: "ALREADY_COMPLETED" });
    return true;
  });
});

await check("queue.cancel of a queued request is accepted and the request never runs", async () => {
  const submitted = await fal.queue.submit("fal-ai/sync-lipsync", {
    input: { video_url: videoUrl, audio_url: audioUrl },
  });
  await fal.queue.cancel("fal-ai/sync-lipsync", { requestId: submitted.request_id });
  const status = await fal.queue.status("fal-ai/sync-lipsync", { requestId: submitted.request_id, logs: true });
  assert.equal(status.status, "COMPLETED");
  assert.equal(status.error_type, "client_cancelled");
  const cancel = loggedRequests().find((r) => r.path === `/fal-ai/sync-lipsync/requests/${submitted.request_id}/cancel`);
  assert.equal(cancel.method, "PUT");
  assert.equal(cancel.status, 202);
  await assert.rejects(fal.queue.result("fal-ai/sync-lipsync", { requestId: submitted.request_id }), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 499);
    assert.equal(error.body.error_type, "client_cancelled");
    return true;
  });
});

await check("an unknown request id is a 404 ApiError with {status: NOT_FOUND}", async () => {
  await assert.rejects(fal.queue.status("fal-ai/sync-lipsync", { requestId: "00000000-0000-4000-8000-000000000000", logs: false }),
    (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 404);
      assert.deepEqual(error.body, { status: "NOT_FOUND" });
      return true;
    });
});

await check("subscribe on fal-ai/sync-lipsync/v2 with model lipsync-2-pro", async () => {
  const result = await fal.subscribe("fal-ai/sync-lipsync/v2", {
    input: { video_url: videoUrl, audio_url: audioUrl, model: "lipsync-2-pro", sync_mode: "cut_off" },
    logs: true,
    pollInterval: 200,
  });
  assert.equal(result.data.video.content_type, "video/mp4");
  const submit = loggedRequests().find((r) => r.request_id === result.requestId);
  assert.equal(submit.path, "/fal-ai/sync-lipsync/v2");
  assert.equal(submit.body.model, "lipsync-2-pro");
  const statusPolls = loggedRequests().filter((r) => r.path === `/fal-ai/sync-lipsync/requests/${result.requestId}/status`);
  assert.ok(statusPolls.length > 0);
  const logged = await fal.queue.status("fal-ai/sync-lipsync/v2", { requestId: result.requestId, logs: true });
  assert.ok(logged.logs.every((l) => l.source === "USER" && /Z$/.test(l.timestamp)), JSON.stringify(logged.logs));
});

await check("a v1 model name on v2 is a 422 ValidationError of type enum", async () => {
  await assert.rejects(
    fal.queue.submit("fal-ai/sync-lipsync/v2", {
      input: { video_url: videoUrl, audio_url: audioUrl, model: "lipsync-1.9.0-beta" },
    }),
    (error) => {
      assert.ok(error instanceof ValidationError, `got ${error?.name}`);
      assert.equal(error.status, 422);
      const [entry] = error.getFieldErrors("model");
      assert.deepEqual(entry.loc, ["body", "model"]);
      assert.equal(entry.type, "enum");
      assert.equal(entry.msg, "Input should be 'lipsync-2' or 'lipsync-2-pro'");
      return true;
    });
});

await check("a 422 comes back as the client's ValidationError with the field in loc", async () => {
  await assert.rejects(
    fal.queue.submit("fal-ai/sync-lipsync", { input: { video_url: videoUrl, sync_mode: "sideways" } }),
    (error) => {
      assert.ok(error instanceof ValidationError, `got ${error?.name}`);
      assert.equal(error.status, 422);
      assert.equal(error.getFieldErrors("audio_url").length, 1);
      assert.deepEqual(error.getFieldErrors("audio_url")[0].loc, ["body", "audio_url"]);
      assert.equal(error.getFieldErrors("audio_url")[0].type, "missing");
      assert.equal(error.getFieldErrors("sync_mode")[0].type, "enum");
      return true;
    });
});

await check("a wrong key is refused with 401", async () => {
  const stranger = createFalClient({
    credentials: "not-the-key",
    requestMiddleware: async (request) => ({ ...request, url: request.url.replace(/^https:\/\/queue\.fal\.run/, emulatorUrl) }),
  });
  await assert.rejects(stranger.queue.submit("fal-ai/sync-lipsync", { input: { video_url: videoUrl, audio_url: audioUrl } }),
    (error) => error instanceof ApiError && error.status === 401);
});

await check("fal.run (the synchronous route) returns the output directly", async () => {
  const result = await fal.run("fal-ai/sync-lipsync", {
    input: { video_url: videoUrl, audio_url: audioUrl, sync_mode: "remap" },
  });
  const file = path.join(scratchDir, "run-output.mp4");
  await downloadTo(result.data.video.url, file);
  const duration = probeDuration(file).duration;
  assert.ok(Math.abs(duration - audioSeconds) <= oneFrame, `duration ${duration}, expected ${audioSeconds}`);
});

await check("webhookUrl: the emulator calls back with the result", async () => {
  let resolveHook;
  const hook = new Promise((resolve) => { resolveHook = resolve; });
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => { body += chunk; });
    request.on("end", () => { response.end("ok"); resolveHook(JSON.parse(body)); });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const webhookUrl = `http://127.0.0.1:${server.address().port}/hook?job=1`;
  const submitted = await fal.queue.submit("fal-ai/sync-lipsync", {
    input: { video_url: videoUrl, audio_url: audioUrl },
    webhookUrl,
  });
  const payload = await hook;
  server.close();
  assert.equal(payload.request_id, submitted.request_id);
  assert.equal(payload.status, "OK");
  assert.equal(payload.payload.video.content_type, "video/mp4");
  const submit = loggedRequests().find((r) => r.request_id === submitted.request_id);
  assert.equal(new URLSearchParams(submit.query).get("fal_webhook"), webhookUrl);
});

console.log(`conformance: ${checks.length} checks passed against ${emulatorUrl}`);
