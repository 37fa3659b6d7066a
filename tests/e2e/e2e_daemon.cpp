// The real `lipsyncd run` against the fal emulator on real media: pairing forms, rejections,
// duplicates, the budget cap, reload, sd_notify, and the status/retry/cancel commands.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "emulator_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

boost::json::object read_json(const fs::path& path) {
  return boost::json::parse(read_text(path)).as_object();
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

// Names in a folder, hidden ones included (a partial file must never show up in outbox/).
std::set<std::string> names_in(const fs::path& folder) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

class DaemonE2E : public ::testing::Test {
 protected:
  void SetUp() override { start_emulator({}); }

  void start_emulator(EmulatorOptions options) {
    emulator.reset();
    // A fresh work dir each time: the old log still holds the old "listening on" line.
    ++emulator_runs;
    emulator = std::make_unique<EmulatorProcess>(
        dir / ("emulator-" + std::to_string(emulator_runs)), std::move(options));
  }

  fs::path inbox() const { return dir / "inbox"; }
  fs::path outbox() const { return dir / "outbox"; }
  fs::path done() const { return dir / "done"; }
  fs::path error() const { return dir / "error"; }

  // A test configuration: short settle, partner and retry times, fast polling.
  void write_config(const std::string& extra_daemon = "", const std::string& extra_sections = "",
                    const std::string& budget = "") {
    std::ofstream(config_file) << "[paths]\n"
                               << "inbox = \"inbox\"\noutbox = \"outbox\"\ndone = \"done\"\n"
                               << "error = \"error\"\nstate = \"state\"\n"
                               << "[fal]\nqueue_url = \"" << emulator->url() << "\"\n"
                               << "rest_url = \"" << emulator->url() << "\"\n"
                               << "poll_interval_ms = 100\nmax_poll_interval_ms = 300\n"
                               << "max_in_flight = 4\n"
                               << "[intake]\nsettle_s = 0.3\nrescan_interval_s = 1\n"
                               << "partner_wait_s = 2\n"
                               << "[daemon]\nretry_base_s = 1\nretry_max_s = 2\n"
                               << "shutdown_timeout_s = 5\nmax_parallel_prepare = 2\n"
                               << extra_daemon << "[budget]\n"
                               << budget << "[log]\nlevel = \"debug\"\nsink = \"stderr\"\n"
                               << extra_sections;
  }

  void start_daemon(std::vector<std::string> env = {}) {
    if (!fs::exists(config_file)) write_config();
    env.push_back("FAL_KEY=" + emulator->key());
    ++daemon_runs;
    daemon = std::make_unique<ChildProcess>(
        std::vector<std::string>{(bin_dir() / "lipsyncd").string(), "run", "--config",
                                 config_file.string()},
        dir / ("daemon-" + std::to_string(daemon_runs) + ".log"),
        ChildOptions{env, {"NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM", "FAL_KEY_ID"}});
    ASSERT_TRUE(daemon->wait_for_output(std::regex("lipsyncd ready"), 30s))
        << "the daemon did not become ready:\n"
        << daemon->log();
  }

  void stop_daemon() {
    daemon->signal(SIGTERM);
    const auto code = daemon->wait_for_exit(15s);
    ASSERT_TRUE(code.has_value()) << "the daemon did not stop on SIGTERM:\n" << daemon->log();
    EXPECT_EQ(*code, 0) << daemon->log();
  }

  // Copies a media file into the inbox the way a careful client does: write, then rename.
  void drop(const std::string& media_name, const std::string& as, const fs::path& folder = {}) {
    const auto target_dir = folder.empty() ? inbox() : folder;
    fs::create_directories(target_dir);
    const auto temporary = target_dir / ("." + as + ".part");
    fs::copy_file(media(media_name), temporary, fs::copy_options::overwrite_existing);
    fs::permissions(temporary, fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(temporary, target_dir / as);
  }

  bool delivered(const std::string& stem, std::chrono::milliseconds timeout = 90s) {
    return eventually(
        [&] {
          return fs::exists(outbox() / (stem + ".lipsync.mp4")) &&
                 fs::exists(outbox() / (stem + ".lipsync.json"));
        },
        timeout);
  }

  bool rejected(const std::string& stem, std::chrono::milliseconds timeout = 60s) {
    return eventually([&] { return fs::exists(error() / (stem + ".error.json")); }, timeout);
  }

  std::size_t submissions() const {
    return emulator->count("POST", std::regex("/fal-ai/sync-lipsync(/.*)?"));
  }
  std::size_t uploads() const {
    return emulator->count("POST", std::regex("/storage/upload/initiate(-multipart)?"));
  }

  std::string run_cli(std::vector<std::string> args, int* exit_code = nullptr) {
    std::vector<std::string> argv = {(bin_dir() / "lipsyncd").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", config_file.string()});
    const auto log = dir / "cli.log";
    fs::remove(log);
    const int code =
        run_to_completion(argv, log, 60s, ChildOptions{{"FAL_KEY=" + emulator->key()}, {}});
    if (exit_code != nullptr) *exit_code = code;
    return read_text(log);
  }

  TempDir dir;
  fs::path config_file = dir / "lipsyncd.toml";
  std::unique_ptr<EmulatorProcess> emulator;
  std::unique_ptr<ChildProcess> daemon;
  int daemon_runs = 0;
  int emulator_runs = 0;
};

TEST_F(DaemonE2E, PairBySameStemIsDeliveredWithSidecarAndInputsArchived) {
  start_daemon();
  drop("talk_h264_aac.mp4", "my clip é.mp4");
  drop("speech_5s.wav", "my clip é.wav");
  ASSERT_TRUE(delivered("my clip é")) << daemon->log();
  const auto sidecar = read_json(outbox() / "my clip é.lipsync.json");
  EXPECT_EQ(sidecar.at("sync_mode").as_string(), "bounce");
  EXPECT_FALSE(sidecar.at("request_id").as_string().empty());
  EXPECT_EQ(sidecar.at("endpoint").as_string(), "fal-ai/sync-lipsync");
  EXPECT_NEAR(sidecar.at("output_duration_s").as_double(), 4.53, 0.1);
  EXPECT_GT(sidecar.at("estimated_cost_usd").as_double(), 0.0);
  EXPECT_TRUE(sidecar.at("stage_seconds").as_object().contains("prepare"));
  // The inputs move to done/ right after the result and its sidecar are in place.
  EXPECT_TRUE(eventually([&] { return fs::exists(done() / "my clip é.wav"); }, 10s));
  EXPECT_TRUE(fs::exists(done() / "my clip é.mp4"));
  EXPECT_TRUE(names_in(inbox()).empty());
  EXPECT_EQ(submissions(), 1u);
  EXPECT_EQ(names_in(outbox()),
            (std::set<std::string>{"my clip é.lipsync.mp4", "my clip é.lipsync.json"}));
  stop_daemon();
}

TEST_F(DaemonE2E, ManifestAndFolderJobsAreDelivered) {
  start_daemon();
  drop("talk_h264_aac.mp4", "a.mp4");
  drop("speech_5s.wav", "b.wav");
  std::ofstream(inbox() / ".m.job.json.part")
      << R"({"video": "a.mp4", "audio": "b.wav", "sync_mode": "loop", "output": "manifest out.mp4"})";
  fs::rename(inbox() / ".m.job.json.part", inbox() / "m.job.json");
  ASSERT_TRUE(eventually([&] { return fs::exists(outbox() / "manifest out.json"); }, 90s))
      << daemon->log();
  EXPECT_EQ(read_json(outbox() / "manifest out.json").at("sync_mode").as_string(), "loop");

  // A folder assembled elsewhere and moved in at once.
  const auto staging = dir / "staging" / "take two";
  drop("real_talk_monalisa_720p.mp4", "face.mp4", staging);
  drop("speech_1s.wav", "voice.wav", staging);
  fs::rename(staging, inbox() / "take two");
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& name : names_in(outbox())) {
          if (name.ends_with(".mp4") && name != "manifest out.mp4") return true;
        }
        return false;
      },
      90s))
      << daemon->log();
  EXPECT_EQ(submissions(), 2u);
  stop_daemon();
}

TEST_F(DaemonE2E, ALoneVideoGoesToErrorAfterThePartnerWait) {
  start_daemon();
  drop("talk_h264_aac.mp4", "alone.mp4");
  ASSERT_TRUE(rejected("alone")) << daemon->log();
  const auto report = read_json(error() / "alone.error.json");
  EXPECT_EQ(report.at("stage").as_string(), "intake");
  EXPECT_NE(std::string(report.at("message").as_string()).find("alone.mp4"), std::string::npos);
  EXPECT_TRUE(fs::exists(error() / "alone.mp4"));
  EXPECT_EQ(uploads(), 0u);
  stop_daemon();
}

TEST_F(DaemonE2E, ASlowWriterIsNeverTakenEarly) {
  start_daemon();
  drop("speech_5s.wav", "slow.wav");
  // Written in pieces over ~3 s, ten times the settle time, without closing in between.
  const auto bytes = read_text(media("talk_h264_aac.mp4"));
  {
    std::ofstream out(inbox() / "slow.mp4", std::ios::binary);
    const std::size_t pieces = 12;
    for (std::size_t i = 0; i < pieces; ++i) {
      const auto begin = bytes.size() * i / pieces;
      const auto end = bytes.size() * (i + 1) / pieces;
      out.write(bytes.data() + begin, static_cast<std::streamsize>(end - begin));
      out.flush();
      std::this_thread::sleep_for(250ms);
      EXPECT_TRUE(fs::exists(inbox() / "slow.mp4")) << "taken while still being written";
    }
  }
  ASSERT_TRUE(delivered("slow")) << daemon->log();
  EXPECT_TRUE(eventually([&] { return fs::exists(done() / "slow.mp4"); }, 10s));
  EXPECT_EQ(read_text(done() / "slow.mp4"), bytes);
  stop_daemon();
}

// Every file MANIFEST.json says to reject as a video (or as any input), paired with a good
// partner: error/ with the listed reason, and nothing uploaded or submitted.
TEST_F(DaemonE2E, BadFilesFromTheManifestLandInErrorWithTheirReason) {
  const auto manifest = boost::json::parse(read_text(media("MANIFEST.json"))).as_array();
  std::map<std::string, std::string> expected;  // stem -> reason_code
  start_daemon();
  for (const auto& value : manifest) {
    const auto& entry = value.as_object();
    const auto says_reject = [&entry](const char* key) {
      const auto* verdict = entry.if_contains(key);
      return verdict != nullptr && verdict->is_string() && verdict->as_string() == "reject";
    };
    if (!says_reject("verdict_as_video") && !says_reject("verdict_as_input")) continue;
    std::string reason;
    if (const auto* r = entry.if_contains("reason_code_as_video"); r && r->is_string()) {
      reason = r->as_string();
    }
    if (reason.empty()) reason = entry.at("reason_code").as_string();
    const fs::path file(std::string(entry.at("file").as_string()));
    const auto stem = "bad_" + file.stem().string();
    const bool is_audio = file.extension() == ".wav";
    drop(file.string(), stem + file.extension().string());
    // 12 s of speech: longer than every bad video, so the whole video is examined.
    drop(is_audio ? "talk_h264_aac.mp4" : "speech_12s.wav", stem + (is_audio ? ".mp4" : ".wav"));
    expected[stem] = reason;
  }
  ASSERT_GE(expected.size(), 5u);
  for (const auto& [stem, reason] : expected) {
    ASSERT_TRUE(rejected(stem, 120s)) << stem << "\n" << daemon->log();
    EXPECT_EQ(read_json(error() / (stem + ".error.json")).at("reason_code").as_string(), reason)
        << stem;
  }
  EXPECT_EQ(uploads(), 0u);
  EXPECT_EQ(submissions(), 0u);
  EXPECT_TRUE(names_in(outbox()).empty());
  stop_daemon();
}

TEST_F(DaemonE2E, SilentAudioIsRejectedBeforeAnythingIsPaid) {
  start_daemon();
  drop("talk_h264_aac.mp4", "mute.mp4");
  drop("silent_5s.wav", "mute.wav");
  ASSERT_TRUE(rejected("mute")) << daemon->log();
  EXPECT_EQ(read_json(error() / "mute.error.json").at("reason_code").as_string(), "audio_silent");
  EXPECT_EQ(uploads(), 0u);
  stop_daemon();
}

TEST_F(DaemonE2E, DuplicateContentIsNotResubmitted) {
  start_daemon();
  drop("talk_h264_aac.mp4", "first.mp4");
  drop("speech_5s.wav", "first.wav");
  ASSERT_TRUE(delivered("first")) << daemon->log();
  drop("talk_h264_aac.mp4", "again.mp4");
  drop("speech_5s.wav", "again.wav");
  ASSERT_TRUE(delivered("again")) << daemon->log();
  EXPECT_EQ(submissions(), 1u);
  const auto sidecar = read_json(outbox() / "again.lipsync.json");
  EXPECT_TRUE(sidecar.contains("duplicate_of"));
  EXPECT_EQ(read_text(outbox() / "again.lipsync.mp4"), read_text(outbox() / "first.lipsync.mp4"));
  stop_daemon();
}

TEST_F(DaemonE2E, BudgetCapHoldsAJobAndAReloadWithAHigherCapReleasesIt) {
  write_config("", "", "daily_usd = 0.01\n");  // the pair costs about 0.05 USD
  start_daemon();
  drop("talk_h264_aac.mp4", "pricey.mp4");
  drop("speech_5s.wav", "pricey.wav");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held"), 60s)) << daemon->log();
  int code = -1;
  const auto status = run_cli({"status", "--json"}, &code);
  EXPECT_EQ(code, 0) << status;
  const auto parsed = boost::json::parse(status).as_object();
  ASSERT_EQ(parsed.at("jobs").as_array().size(), 1u) << status;
  EXPECT_EQ(parsed.at("jobs").as_array()[0].at("state").as_string(), "held");
  EXPECT_EQ(parsed.at("jobs").as_array()[0].at("hold_reason").as_string(), "budget");
  EXPECT_EQ(uploads(), 0u);

  // An invalid file on reload keeps the running configuration (and the hold).
  std::ofstream(config_file, std::ios::app) << "[budget]\nnonsense = 1\n";
  daemon->signal(SIGHUP);
  ASSERT_TRUE(daemon->wait_for_output(std::regex("reload refused"), 10s)) << daemon->log();
  EXPECT_TRUE(daemon->running());

  write_config("", "", "daily_usd = 10\n");
  daemon->signal(SIGHUP);
  ASSERT_TRUE(delivered("pricey")) << daemon->log();
  EXPECT_EQ(submissions(), 1u);
  const auto after = run_cli({"status"}, &code);
  EXPECT_NE(after.find("spend (UTC): today 0.0"), std::string::npos) << after;
  stop_daemon();
}

TEST_F(DaemonE2E, SdNotifyReportsReadyStatusAndStopping) {
  const auto socket_path = dir / "notify.sock";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval timeout{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::vector<std::string> messages;
  const auto collect = [&] {
    char buffer[4096];
    for (;;) {
      const auto got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) break;
      messages.emplace_back(buffer, static_cast<std::size_t>(got));
    }
  };
  write_config();
  // WATCHDOG_USEC without WATCHDOG_PID applies to us: pings every 0.5 s.
  start_daemon({"NOTIFY_SOCKET=" + socket_path.string(), "WATCHDOG_USEC=1000000"});
  std::this_thread::sleep_for(1500ms);
  collect();
  stop_daemon();
  collect();
  ::close(fd);
  std::string all;
  for (const auto& m : messages) all += m + "\n---\n";
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.front().find("READY=1"), std::string::npos) << all;
  EXPECT_NE(all.find("STATUS="), std::string::npos) << all;
  EXPECT_NE(all.find("WATCHDOG=1"), std::string::npos) << all;
  EXPECT_NE(all.find("STOPPING=1"), std::string::npos) << all;
}

TEST_F(DaemonE2E, CancelAQueuedJobCancelsItAtFalAndRetryBringsItBack) {
  start_emulator({.queue_delay_ms = 60000});
  write_config();
  start_daemon();
  drop("talk_h264_aac.mp4", "later.mp4");
  drop("speech_5s.wav", "later.wav");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=submitted job_id=(\\S+)"), 60s))
      << daemon->log();
  const auto id = daemon->wait_for_output(std::regex("event=submitted job_id=(\\S+)"), 1s);
  ASSERT_TRUE(id.has_value());
  int code = -1;
  const auto said = run_cli({"cancel", *id}, &code);
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("cancelled"), std::string::npos) << said;
  EXPECT_EQ(emulator->count("PUT", std::regex("/fal-ai/sync-lipsync/requests/.*/cancel")), 1u);
  ASSERT_TRUE(rejected("later")) << daemon->log();
  EXPECT_EQ(read_json(error() / "later.error.json").at("reason_code").as_string(), "cancelled");
  EXPECT_TRUE(fs::exists(error() / "later.mp4"));
  const auto status = boost::json::parse(run_cli({"status", "--json"})).as_object();
  EXPECT_EQ(status.at("jobs").as_array()[0].at("state").as_string(), "cancelled");
  stop_daemon();
}

TEST_F(DaemonE2E, AnAmbiguousSubmitIsHeldForAPersonAndNeverResent) {
  emulator->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$",
                           "action": "accept_then_reset", "times": 1})");
  start_daemon();
  drop("real_talk_monalisa_720p.mp4", "unsure.mp4");
  drop("speech_1s.wav", "unsure.wav");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held"), 120s)) << daemon->log();
  std::this_thread::sleep_for(3s);  // several pump rounds: nothing may resubmit it
  EXPECT_EQ(submissions(), 1u);
  const auto status = boost::json::parse(run_cli({"status", "--json"})).as_object();
  ASSERT_EQ(status.at("jobs").as_array().size(), 1u);
  EXPECT_EQ(status.at("jobs").as_array()[0].at("hold_reason").as_string(), "ambiguous_submit");
  EXPECT_FALSE(fs::exists(outbox() / "unsure.lipsync.mp4"));
  stop_daemon();
}

TEST_F(DaemonE2E, RetryOfAFailedJobRunsItAgain) {
  // The first submit is refused by fal for good (HTTP 422): the job fails to error/.
  emulator->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$",
                           "action": "status", "status": 422, "times": 1})");
  start_daemon();
  drop("talk_h264_aac.mp4", "twice.mp4");
  drop("speech_5s.wav", "twice.wav");
  ASSERT_TRUE(rejected("twice")) << daemon->log();
  const auto id = std::string(read_json(error() / "twice.error.json").at("job_id").as_string());
  int code = -1;
  const auto said = run_cli({"retry", id}, &code);
  EXPECT_EQ(code, 0) << said;
  EXPECT_FALSE(fs::exists(error() / "twice.mp4"));
  ASSERT_TRUE(delivered("twice")) << daemon->log();
  EXPECT_EQ(submissions(), 2u);  // the refused one and the retry
  stop_daemon();
}

TEST_F(DaemonE2E, HelpExplainsEachCommand) {
  for (const std::string command : {"run", "status", "retry", "cancel"}) {
    int code = -1;
    const auto log = dir / "help.log";
    code = run_to_completion({(bin_dir() / "lipsyncd").string(), command, "--help"}, log);
    EXPECT_EQ(code, 0);
    const auto text = read_text(log);
    EXPECT_NE(text.find("--config"), std::string::npos) << command << ": " << text;
  }
}

// kill -9 at each stage, then a restart: the job is delivered exactly once, fal saw exactly
// one submission, and outbox/ never showed a partial file.
struct CrashPoint {
  std::string name;
  std::string wait_for;  // the daemon's log line after which it is killed
  int kill_after_ms = 0;
  int queue_delay_ms = 0;
  std::string faults;  // emulator faults while the first daemon runs
};

void PrintTo(const CrashPoint& point, std::ostream* out) {
  *out << point.name;
}

class DaemonCrashE2E : public DaemonE2E, public ::testing::WithParamInterface<CrashPoint> {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.queue_delay_ms = GetParam().queue_delay_ms;
    start_emulator(options);
  }
};

TEST_P(DaemonCrashE2E, KillNineThenRestartDeliversExactlyOnce) {
  const auto& point = GetParam();
  if (!point.faults.empty()) emulator->set_faults(point.faults);
  write_config();
  start_daemon();

  // Watch outbox/ the whole time: every visible video must be complete when it appears.
  std::atomic<bool> watching{true};
  std::vector<std::pair<std::string, std::uintmax_t>> seen;
  std::thread watcher([&] {
    while (watching) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(outbox(), ec)) {
        const auto size = fs::file_size(entry.path(), ec);
        if (!ec) seen.emplace_back(entry.path().filename().string(), size);
      }
      std::this_thread::sleep_for(10ms);
    }
  });

  drop("real_talk_monalisa_720p.mp4", "crash.mp4");
  drop("speech_1s.wav", "crash.wav");
  const bool reached = daemon->wait_for_output(std::regex(point.wait_for), 120s).has_value();
  std::this_thread::sleep_for(std::chrono::milliseconds(point.kill_after_ms));
  daemon->signal(SIGKILL);
  daemon->wait_for_exit(10s);
  ASSERT_TRUE(reached) << "never reached " << point.wait_for << ":\n" << daemon->log();

  emulator->clear_faults();
  start_daemon();
  const bool ok = delivered("crash", 120s);
  watching = false;
  watcher.join();
  ASSERT_TRUE(ok) << daemon->log();
  stop_daemon();

  EXPECT_EQ(submissions(), 1u) << "the job was paid for more than once";
  EXPECT_EQ(names_in(outbox()), (std::set<std::string>{"crash.lipsync.mp4", "crash.lipsync.json"}));
  const auto final_size = fs::file_size(outbox() / "crash.lipsync.mp4");
  for (const auto& [name, size] : seen) {
    EXPECT_FALSE(name.starts_with(".")) << "a temporary file was visible in outbox/: " << name;
    if (name == "crash.lipsync.mp4") {
      EXPECT_EQ(size, final_size) << "a partial video was visible";
    }
  }
  EXPECT_TRUE(fs::exists(done() / "crash.mp4"));
  EXPECT_TRUE(fs::exists(done() / "crash.wav"));
  EXPECT_TRUE(names_in(inbox()).empty());
}

INSTANTIATE_TEST_SUITE_P(
    Stages, DaemonCrashE2E,
    ::testing::Values(CrashPoint{"prepare", "event=accepted", 0, 0, ""},
                      CrashPoint{
                          "upload", "event=prepared", 200, 0,
                          R"({"method": "PUT", "path": "^/_storage/upload/.*$", "action": "delay",
                       "delay_ms": 5000, "times": -1})"},
                      CrashPoint{"after_submit", "event=submitted", 0, 3000, ""},
                      CrashPoint{"polling", "event=submitted", 1000, 3000, ""},
                      CrashPoint{"download", "event=completed", 100, 0,
                                 R"({"method": "GET", "path": "^/files/.*$", "action": "slow_body",
                       "bytes_per_second": 20000, "times": -1})"},
                      CrashPoint{"delivery", "event=completed", 0, 0, ""}),
    [](const ::testing::TestParamInfo<CrashPoint>& point) { return point.param.name; });

// Fifty pairs dropped at once are all delivered, each submitted once.
TEST_F(DaemonE2E, FiftyPairsAtOnceAreAllDelivered) {
  write_config();
  // Same content fifty times: the duplicate guard is turned off so every pair goes to fal.
  std::string text = read_text(config_file);
  text.replace(text.find("partner_wait_s = 2\n"), std::string("partner_wait_s = 2\n").size(),
               "partner_wait_s = 2\nduplicate_window_h = 0\n");
  std::ofstream(config_file) << text;
  start_daemon();
  const auto staging = dir / "staging";
  fs::create_directories(staging);
  for (int i = 0; i < 50; ++i) {
    fs::copy_file(media("real_talk_monalisa_720p.mp4"),
                  staging / ("p" + std::to_string(i) + ".mp4"));
    fs::copy_file(media("speech_1s.wav"), staging / ("p" + std::to_string(i) + ".wav"));
  }
  for (const auto& entry : fs::directory_iterator(staging)) {
    fs::rename(entry.path(), inbox() / entry.path().filename());
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(delivered("p" + std::to_string(i), 300s)) << i << "\n" << daemon->log();
  }
  EXPECT_EQ(submissions(), 50u);
  EXPECT_EQ(names_in(outbox()).size(), 100u);
  stop_daemon();
}

}  // namespace
}  // namespace lipsyncd::test
