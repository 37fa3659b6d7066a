// Protocol fidelity: the emulator's request log for a `lipsyncd submit` run must match, request
// by request, what fal's official client (@fal-ai/client 1.10.1, the conformance harness's
// pinned install) sends for the same job: methods, paths, query, header names, JSON body keys.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "child_process.hpp"
#include "emulator_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kKey = "conformance-e2e-key-71b2";

// The official client, driven the way lipsyncd submit works: two uploads, a subscribe with
// logs, the output downloaded. Only the client's own configuration point (the request
// middleware) points it at the emulator.
constexpr const char* kReferenceScript = R"JS(
const { createFalClient } = require("@fal-ai/client");
const fs = require("fs");
const path = require("path");
const [url, key, video, audio, endpoint, syncMode, model, out] = process.argv.slice(2);
const fal = createFalClient({
  credentials: key,
  requestMiddleware: async (request) => ({
    ...request,
    url: request.url.replace(/^https:\/\/queue\.fal\.run/, url)
                    .replace(/^https:\/\/rest\.fal\.ai/, url),
  }),
});
const file = (p, type) => new File([fs.readFileSync(p)], path.basename(p), { type });
(async () => {
  const video_url = await fal.storage.upload(file(video, "video/mp4"));
  const audio_url = await fal.storage.upload(file(audio, "audio/wav"));
  const result = await fal.subscribe(endpoint, {
    input: { video_url, audio_url, model, sync_mode: syncMode },
    logs: true,
    pollInterval: 200,
  });
  const response = await fetch(result.data.video.url);
  fs.writeFileSync(out, Buffer.from(await response.arrayBuffer()));
})().catch((error) => { console.error(error); process.exit(1); });
)JS";

// The official client installed by the conformance test (npm ci from its pinned lock file);
// installs it the same way when the conformance test has not run yet in this build.
std::filesystem::path official_client_modules(const std::filesystem::path& scratch) {
  const auto node_dir = bin_dir().parent_path() / "tests" / "conformance" / "node";
  const auto modules = node_dir / "node_modules";
  if (std::filesystem::exists(modules / "@fal-ai" / "client" / "package.json")) return modules;
  const auto sources = source_dir() / "tests" / "conformance";
  std::filesystem::create_directories(node_dir);
  for (const char* name : {"package.json", "package-lock.json"}) {
    std::filesystem::copy_file(sources / name, node_dir / name,
                               std::filesystem::copy_options::overwrite_existing);
  }
  const int code = run_to_completion(
      {"/usr/bin/env", "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"},
      scratch / "npm.log", 300s, ChildOptions{{}, {}, node_dir});
  EXPECT_EQ(code, 0) << read_text(scratch / "npm.log");
  std::filesystem::copy_file(sources / "package-lock.json", node_dir / "package-lock.installed",
                             std::filesystem::copy_options::overwrite_existing);
  return modules;
}

// Headers every HTTP stack adds on its own (transport, not protocol).
const std::set<std::string> kTransportHeaders = {"host",
                                                 "connection",
                                                 "content-length",
                                                 "transfer-encoding",
                                                 "accept-encoding",
                                                 "accept-language",
                                                 "sec-fetch-mode",
                                                 "keep-alive"};

std::string normalized_path(std::string path) {
  path = std::regex_replace(path, std::regex("/requests/[^/]+"), "/requests/{id}");
  path =
      std::regex_replace(path, std::regex("^/_storage/upload/[^/]+"), "/_storage/upload/{token}");
  path = std::regex_replace(path, std::regex("^/files/.*$"), "/files/{file}");
  return path;
}

std::string normalized_query(const std::string& query) {
  // Keep names and the values that are protocol constants; signatures and tokens vary.
  std::string out;
  std::stringstream in(query);
  std::string pair;
  while (std::getline(in, pair, '&')) {
    const auto equals = pair.find('=');
    const std::string name = pair.substr(0, equals);
    const std::string value = equals == std::string::npos ? "" : pair.substr(equals + 1);
    out += (out.empty() ? "?" : "&") + name + "=" +
           (name == "storage_type" || name == "logs" ? value : "*");
  }
  return out;
}

std::string body_shape(const json::value& body) {
  if (!body.is_object()) return body.is_null() ? "-" : "<data>";
  std::set<std::string> keys;
  for (const auto& [key, value] : body.as_object()) keys.insert(std::string(key));
  std::string out = "{";
  for (const auto& key : keys) out += (out.size() > 1 ? "," : "") + key;
  return out + "}";
}

// One line per request: method, path, query, header names, body keys. Repeated identical
// status polls count once: how often a client polls depends on timing, not on the protocol.
std::vector<std::string> signatures(const std::vector<json::object>& log) {
  std::vector<std::string> lines;
  for (const auto& entry : log) {
    std::set<std::string> headers;
    for (const auto& name : entry.at("headers").as_array()) {
      const std::string header(name.as_string());
      if (!kTransportHeaders.contains(header)) headers.insert(header);
    }
    std::string line = std::string(entry.at("method").as_string()) + " " +
                       normalized_path(std::string(entry.at("path").as_string())) +
                       normalized_query(std::string(entry.at("query").as_string())) + " [";
    for (const auto& h : headers) line += h + (h == *headers.rbegin() ? "" : ",");
    line += "] " + body_shape(entry.at("body"));
    if (lines.empty() || lines.back() != line) lines.push_back(line);
  }
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += "  " + line + "\n";
  return out;
}

// An endpoint and a model of its own (v2 refuses v1's model names, §9.2).
struct EndpointModel {
  const char* endpoint;
  const char* model;
};

class SubmitConformanceTest : public ::testing::TestWithParam<EndpointModel> {};

TEST_P(SubmitConformanceTest, RequestLogMatchesTheOfficialClient) {
  const std::string endpoint = GetParam().endpoint;
  const std::string model = GetParam().model;
  TempDir dir;
  const auto modules = official_client_modules(dir.path());
  const auto video = media("talk_h264_aac.mp4");
  const auto audio = media("speech_5s.wav");
  const EmulatorOptions options{.key = kKey, .queue_delay_ms = 400, .processing_ms = 700};

  EmulatorProcess official_emulator(dir / "official", options);
  const auto script = dir / "reference.cjs";
  std::ofstream(script) << kReferenceScript;
  const int official_code = run_to_completion(
      {"/usr/bin/env", "node", script.string(), official_emulator.url(), kKey, video.string(),
       audio.string(), endpoint, "bounce", model, (dir / "official.mp4").string()},
      dir / "official.log", 120s, ChildOptions{{"NODE_PATH=" + modules.string()}, {}, {}});
  ASSERT_EQ(official_code, 0) << read_text(dir / "official.log");

  EmulatorProcess ours_emulator(dir / "ours", options);
  const int our_code = run_to_completion(
      {(bin_dir() / "lipsyncd").string(), "submit", video.string(), audio.string(), "--out",
       (dir / "ours.mp4").string(), "--endpoint", endpoint, "--sync-mode", "bounce", "--model",
       model, "--queue-url", ours_emulator.url(), "--rest-url", ours_emulator.url()},
      dir / "ours.log", 120s,
      ChildOptions{{std::string("FAL_KEY=") + kKey},
                   {"FAL_KEY_ID", "FAL_KEY_SECRET", "FAL_VIDEO_TO_VIDEO_LIPSYNC", "https_proxy",
                    "HTTPS_PROXY"},
                   {}});
  ASSERT_EQ(our_code, 0) << read_text(dir / "ours.log");

  const auto theirs = signatures(official_emulator.requests());
  const auto ours = signatures(ours_emulator.requests());
  EXPECT_EQ(ours, theirs) << "lipsyncd sent:\n"
                          << joined(ours) << "the official client sent:\n"
                          << joined(theirs);
  EXPECT_GE(ours.size(), 7u);  // 2 x (initiate + PUT), submit, status, result, download
  EXPECT_EQ(std::filesystem::file_size(dir / "ours.mp4") > 0, true);
}

INSTANTIATE_TEST_SUITE_P(
    Endpoints, SubmitConformanceTest,
    ::testing::Values(EndpointModel{"fal-ai/sync-lipsync", "lipsync-1.9.0-beta"},
                      EndpointModel{"fal-ai/sync-lipsync/v2", "lipsync-2-pro"}),
    [](const auto& param_info) {
      return std::string(param_info.param.endpoint).find("v2") != std::string::npos ? "v2" : "v1";
    });

}  // namespace
}  // namespace lipsyncd::test
