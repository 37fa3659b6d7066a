#pragma once
// The fixture of every end-to-end test that runs the real `lipsyncd run` against a fal
// emulator: one temporary folder with inbox/outbox/done/error/state, a configuration written
// from `settings` (section -> key -> TOML value), dropping media the way careful clients do,
// and questions about what happened (delivered? rejected? how many requests did fal create?
// where did each input end up?). Header-only.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "emulator_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {

inline boost::json::object read_json(const std::filesystem::path& path) {
  return boost::json::parse(read_text(path)).as_object();
}

inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

// Names in a folder, hidden ones included (a partial file must never show up in outbox/).
inline std::set<std::string> names_in(const std::filesystem::path& folder) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// section -> key -> value as TOML text (strings quoted by the caller).
using ConfigSettings = std::map<std::string, std::map<std::string, std::string>>;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override { start_emulator({}); }

  void start_emulator(EmulatorOptions options) {
    emulator.reset();
    // A fresh work dir each time: the old log still holds the old "listening on" line.
    ++emulator_runs;
    emulator = std::make_unique<EmulatorProcess>(
        dir / ("emulator-" + std::to_string(emulator_runs)), std::move(options));
  }

  std::filesystem::path inbox() const { return dir / "inbox"; }
  std::filesystem::path outbox() const { return dir / path_setting("outbox"); }
  std::filesystem::path done() const { return dir / "done"; }
  std::filesystem::path error() const { return dir / "error"; }
  std::filesystem::path state() const { return dir / path_setting("state"); }

  // Short settle, partner and retry times and fast polling, so tests run in seconds.
  static ConfigSettings test_settings() {
    return {
        {"paths",
         {{"inbox", "\"inbox\""},
          {"outbox", "\"outbox\""},
          {"done", "\"done\""},
          {"error", "\"error\""},
          {"state", "\"state\""}}},
        {"fal",
         {{"poll_interval_ms", "100"}, {"max_poll_interval_ms", "300"}, {"max_in_flight", "4"}}},
        {"intake", {{"settle_s", "0.3"}, {"rescan_interval_s", "1"}, {"partner_wait_s", "2"}}},
        {"daemon",
         {{"retry_base_s", "1"},
          {"retry_max_s", "2"},
          {"shutdown_timeout_s", "5"},
          {"max_parallel_prepare", "2"}}},
        {"budget", {}},
        {"log", {{"level", "\"debug\""}, {"sink", "\"stderr\""}}}};
  }

  // For many small jobs: an emulator that does no work (renders reused, 4 workers), every pair
  // paid for even though the content repeats, info logs, and 2 face samples a job (the face
  // check's cost is bench_media_prepare's business; here the daemon's own handling is).
  void use_zero_work_burst_setup() {
    start_emulator({.extra_args = {"--reuse-renders", "--workers", "4"}});
    settings["intake"]["duplicate_window_h"] = "0";
    settings["fal"]["max_in_flight"] = "8";
    settings["log"]["level"] = "\"info\"";
    settings["face"]["min_samples"] = "2";
    settings["face"]["max_samples"] = "2";
  }

  // Writes `settings`, with the emulator's URL as fal's.
  void write_config() {
    settings["fal"]["queue_url"] = "\"" + emulator->url() + "\"";
    settings["fal"]["rest_url"] = "\"" + emulator->url() + "\"";
    std::ofstream out(config_file);
    for (const auto& [section, values] : settings) {
      out << "[" << section << "]\n";
      for (const auto& [key, value] : values) out << key << " = " << value << "\n";
    }
  }

  void start_daemon(std::vector<std::string> env = {}) {
    if (!std::filesystem::exists(config_file)) write_config();
    env.push_back("FAL_KEY=" + emulator->key());
    ++daemon_runs;
    daemon = std::make_unique<ChildProcess>(
        std::vector<std::string>{(bin_dir() / "lipsyncd").string(), "run", "--config",
                                 config_file.string()},
        dir / ("daemon-" + std::to_string(daemon_runs) + ".log"),
        ChildOptions{env, {"NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM", "FAL_KEY_ID"}});
    ASSERT_TRUE(daemon->wait_for_output(std::regex("lipsyncd ready"), std::chrono::seconds(30)))
        << "the daemon did not become ready:\n"
        << daemon->log();
  }

  void stop_daemon() {
    daemon->signal(SIGTERM);
    const auto code = daemon->wait_for_exit(std::chrono::seconds(15));
    ASSERT_TRUE(code.has_value()) << "the daemon did not stop on SIGTERM:\n" << daemon->log();
    EXPECT_EQ(*code, 0) << daemon->log();
  }

  // Copies a media file into the inbox the way a careful client does: write, then rename.
  void drop(const std::string& media_name, const std::string& as,
            const std::filesystem::path& folder = {}) {
    drop_file(media(media_name), as, folder);
  }
  void drop_file(const std::filesystem::path& source, const std::string& as,
                 const std::filesystem::path& folder = {}) {
    const auto target_dir = folder.empty() ? inbox() : folder;
    std::filesystem::create_directories(target_dir);
    // A short hidden name: `as` may be as long as a name can be.
    const auto temporary = target_dir / (".drop-" + std::to_string(++text_drops) + ".part");
    std::filesystem::copy_file(source, temporary,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(
        temporary, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::filesystem::rename(temporary, target_dir / as);
  }
  // `count` copies of a pair, named p0.mp4 + p0.wav, p1..., in a staging folder beside the
  // inbox; move_staged_into_inbox() then drops them all at once, as a burst.
  void stage_pairs(const std::filesystem::path& video, const std::filesystem::path& audio,
                   int count) {
    std::filesystem::create_directories(staging());
    for (int i = 0; i < count; ++i) {
      std::filesystem::copy_file(video, staging() / ("p" + std::to_string(i) + ".mp4"));
      std::filesystem::copy_file(audio, staging() / ("p" + std::to_string(i) + ".wav"));
    }
  }
  void move_staged_into_inbox() {
    for (const auto& entry : std::filesystem::directory_iterator(staging())) {
      std::filesystem::rename(entry.path(), inbox() / entry.path().filename());
    }
  }
  std::filesystem::path staging() const { return dir / "staging"; }
  // The `count` staged pairs each delivered exactly once: result and sidecar in outbox/, both
  // inputs in done/, nothing left in the inbox or error/.
  void expect_each_pair_delivered_once(int count) const {
    std::set<std::string> expected_outbox, expected_done;
    for (int i = 0; i < count; ++i) {
      const auto stem = "p" + std::to_string(i);
      expected_outbox.insert({stem + ".lipsync.mp4", stem + ".lipsync.json"});
      expected_done.insert({stem + ".mp4", stem + ".wav"});
    }
    EXPECT_EQ(names_in(outbox()), expected_outbox);
    EXPECT_EQ(names_in(done()), expected_done);
    EXPECT_TRUE(names_in(inbox()).empty());
    EXPECT_TRUE(names_in(error()).empty());
  }

  // Writes `text` into the inbox under `name`, atomically.
  void drop_text(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(inbox());
    const auto temporary = inbox() / (".drop-" + std::to_string(++text_drops) + ".part");
    std::ofstream(temporary, std::ios::binary) << text;
    std::filesystem::rename(temporary, inbox() / name);
  }

  bool delivered(const std::string& stem,
                 std::chrono::milliseconds timeout = std::chrono::seconds(90)) {
    return eventually(
        [&] {
          return std::filesystem::exists(outbox() / (stem + ".lipsync.mp4")) &&
                 std::filesystem::exists(outbox() / (stem + ".lipsync.json"));
        },
        timeout);
  }

  bool rejected(const std::string& stem,
                std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return eventually([&] { return std::filesystem::exists(error() / (stem + ".error.json")); },
                      timeout);
  }
  std::string reason_of(const std::string& stem) const {
    return std::string(read_json(error() / (stem + ".error.json")).at("reason_code").as_string());
  }

  // Every submit POST that reached the emulator, refused ones included.
  std::size_t submissions() const {
    return emulator->count("POST", std::regex("/fal-ai/sync-lipsync(/.*)?"));
  }
  // Submits that created a request at fal: what would be paid for.
  std::size_t requests_created() const {
    std::size_t created = 0;
    for (const auto& entry : emulator->requests()) {
      const auto* id = entry.if_contains("request_id");
      if (id != nullptr && id->is_string() && !id->as_string().empty()) ++created;
    }
    return created;
  }
  std::size_t uploads() const {
    return emulator->count("POST", std::regex("/storage/upload/initiate(-multipart)?"));
  }

  // Where a file of this name is now: the folders (relative to the test dir) holding it,
  // searched through every folder the daemon uses, the spool included. An input that is
  // neither lost nor duplicated is in exactly one place.
  std::set<std::string> places_of(const std::string& name) const {
    std::set<std::string> places;
    std::error_code ec;
    for (const auto& root : {inbox(), outbox(), done(), error(), state()}) {
      for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().filename() == name) {
          places.insert(std::filesystem::relative(it->path().parent_path(), dir.path()).string());
        }
      }
    }
    return places;
  }

  // Delivered exactly once: one request created at fal, the result and its sidecar alone in
  // outbox/, each input in done/ and nowhere else.
  void expect_delivered_once(const std::string& stem) const {
    EXPECT_EQ(requests_created(), 1u) << "the job was paid for more than once";
    EXPECT_EQ(names_in(outbox()),
              (std::set<std::string>{stem + ".lipsync.mp4", stem + ".lipsync.json"}));
    EXPECT_EQ(places_of(stem + ".mp4"), (std::set<std::string>{"done"}));
    EXPECT_EQ(places_of(stem + ".wav"), (std::set<std::string>{"done"}));
  }

  // The daemon's status as JSON (`lipsyncd status --json`).
  boost::json::object status_json() {
    int code = -1;
    const auto text = run_cli({"status", "--json"}, &code);
    EXPECT_EQ(code, 0) << text;
    return boost::json::parse(text).as_object();
  }

  std::string run_cli(std::vector<std::string> args, int* exit_code = nullptr) {
    std::vector<std::string> argv = {(bin_dir() / "lipsyncd").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", config_file.string()});
    const auto log = dir / "cli.log";
    std::filesystem::remove(log);
    const int code = run_to_completion(argv, log, std::chrono::seconds(60),
                                       ChildOptions{{"FAL_KEY=" + emulator->key()}, {}});
    if (exit_code != nullptr) *exit_code = code;
    return read_text(log);
  }

  TempDir dir;
  std::filesystem::path config_file = dir / "lipsyncd.toml";
  ConfigSettings settings = test_settings();
  std::unique_ptr<EmulatorProcess> emulator;
  std::unique_ptr<ChildProcess> daemon;
  int daemon_runs = 0;
  int emulator_runs = 0;
  int text_drops = 0;

 private:
  // A [paths] value without its quotes.
  std::string path_setting(const std::string& key) const {
    const auto& text = settings.at("paths").at(key);
    return text.size() >= 2 ? text.substr(1, text.size() - 2) : text;
  }
};

}  // namespace lipsyncd::test
