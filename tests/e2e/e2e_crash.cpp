// Crash matrix (ctest label `crash`): `kill -9` of the real daemon at every state a job passes
// through, then a restart; and the disk filling up under the spool and the outbox. Nothing may
// be paid twice, lost, corrupted, or shown half-written in outbox/.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "daemon_test.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Samples outbox/ every 10 ms while it lives: every file seen there must already be complete.
class OutboxWatch {
 public:
  explicit OutboxWatch(fs::path outbox)
      : outbox_(std::move(outbox)), thread_([this] { watch(); }) {}
  OutboxWatch(const OutboxWatch&) = delete;
  OutboxWatch& operator=(const OutboxWatch&) = delete;
  ~OutboxWatch() { stop(); }

  // (name, size) of everything seen, after stopping.
  const std::vector<std::pair<std::string, std::uintmax_t>>& stop() {
    if (thread_.joinable()) {
      running_ = false;
      thread_.join();
    }
    return seen_;
  }

  void expect_only_complete(const std::string& video_name, std::uintmax_t final_size) {
    for (const auto& [name, size] : stop()) {
      EXPECT_FALSE(name.starts_with(".")) << "a temporary file was visible in outbox/: " << name;
      if (name == video_name) {
        EXPECT_EQ(size, final_size) << "a partial video was visible";
      }
    }
  }

 private:
  void watch() {
    while (running_) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(outbox_, ec)) {
        const auto size = fs::file_size(entry.path(), ec);
        if (!ec) seen_.emplace_back(entry.path().filename().string(), size);
      }
      std::this_thread::sleep_for(10ms);
    }
  }

  fs::path outbox_;
  std::atomic<bool> running_{true};
  std::vector<std::pair<std::string, std::uintmax_t>> seen_;
  std::thread thread_;
};

using CrashE2E = DaemonTest;

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

class CrashAtStageE2E : public DaemonTest, public ::testing::WithParamInterface<CrashPoint> {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.queue_delay_ms = GetParam().queue_delay_ms;
    start_emulator(options);
  }
};

// kill -9 at each stage, then a restart: delivered exactly once, fal created exactly one
// request, and outbox/ never showed a partial file.
TEST_P(CrashAtStageE2E, KillNineThenRestartDeliversExactlyOnce) {
  const auto& point = GetParam();
  if (!point.faults.empty()) emulator->set_faults(point.faults);
  write_config();
  start_daemon();
  OutboxWatch watch(outbox());

  drop("real_talk_monalisa_720p.mp4", "crash.mp4");
  drop("speech_1s.wav", "crash.wav");
  const bool reached = daemon->wait_for_output(std::regex(point.wait_for), 120s).has_value();
  std::this_thread::sleep_for(std::chrono::milliseconds(point.kill_after_ms));
  daemon->signal(SIGKILL);
  daemon->wait_for_exit(10s);
  ASSERT_TRUE(reached) << "never reached " << point.wait_for << ":\n" << daemon->log();

  emulator->clear_faults();
  start_daemon();
  ASSERT_TRUE(delivered("crash", 120s)) << daemon->log();
  EXPECT_TRUE(
      eventually([&] { return places_of("crash.wav") == std::set<std::string>{"done"}; }, 10s));
  stop_daemon();

  watch.expect_only_complete("crash.lipsync.mp4", fs::file_size(outbox() / "crash.lipsync.mp4"));
  expect_delivered_once("crash");
  EXPECT_TRUE(names_in(inbox()).empty());
}

// Every state a job passes through on its way to delivery, plus a deferral.
INSTANTIATE_TEST_SUITE_P(
    Stages, CrashAtStageE2E,
    ::testing::Values(
        CrashPoint{"accepted", "event=accepted", 0, 0, ""},
        CrashPoint{"preparing", "event=accepted", 150, 0, ""},
        CrashPoint{"prepared_uploading", "event=prepared", 200, 0,
                   R"({"method": "PUT", "path": "^/_storage/upload/.*$", "action": "delay",
                       "delay_ms": 5000, "times": -1})"},
        CrashPoint{"deferred", "event=deferred", 0, 0,
                   R"({"method": "POST", "path": "^/storage/upload/initiate$", "action": "status",
                       "status": 503, "times": -1})"},
        CrashPoint{"submitted", "event=submitted", 0, 3000, ""},
        CrashPoint{"polling", "event=submitted", 1000, 3000, ""},
        CrashPoint{"completed_downloading", "event=completed", 100, 0,
                   R"({"method": "GET", "path": "^/files/.*$", "action": "slow_body",
                       "bytes_per_second": 20000, "times": -1})"},
        CrashPoint{"completed", "event=completed", 0, 0, ""},
        CrashPoint{"delivering", "event=completed", 30, 0, ""}),
    [](const ::testing::TestParamInfo<CrashPoint>& point) { return point.param.name; });

// Killed while the submit POST is on its way (fal holds it 4 s before answering): nobody can
// know whether fal created the request, so the restarted daemon holds the job for a person
// and never resends it by itself; `lipsyncd retry` is that person's decision.
TEST_F(CrashE2E, KilledWhileSubmittingIsHeldNotResent) {
  emulator->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$", "action": "delay",
                           "delay_ms": 4000, "times": 1})");
  write_config();
  start_daemon();
  drop("real_talk_monalisa_720p.mp4", "unsure.mp4");
  drop("speech_1s.wav", "unsure.wav");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=uploaded"), 120s)) << daemon->log();
  std::this_thread::sleep_for(1s);  // the POST left at once; fal answers after 4 s
  ASSERT_EQ(submissions(), 0u) << "fal answered too early for this test";
  daemon->signal(SIGKILL);
  daemon->wait_for_exit(10s);

  start_daemon();
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held.*ambiguous_submit"), 30s))
      << daemon->log();
  std::this_thread::sleep_for(4s);  // the delayed POST reaches fal meanwhile
  const auto unsure_submits = submissions();
  EXPECT_LE(unsure_submits, 1u);
  std::this_thread::sleep_for(2s);  // more pump rounds: nothing may resend it
  EXPECT_EQ(submissions(), unsure_submits) << "resent without a person deciding";
  const auto status = status_json();
  ASSERT_EQ(status.at("jobs").as_array().size(), 1u);
  const auto& job = status.at("jobs").as_array()[0].as_object();
  EXPECT_EQ(job.at("hold_reason").as_string(), "ambiguous_submit");
  // The inputs wait in the spool, nowhere else.
  EXPECT_EQ(places_of("unsure.mp4").size(), 1u);
  EXPECT_TRUE(names_in(outbox()).empty());

  int code = -1;
  const auto said = run_cli({"retry", std::string(job.at("id").as_string())}, &code);
  EXPECT_EQ(code, 0) << said;
  ASSERT_TRUE(delivered("unsure", 120s)) << daemon->log();
  EXPECT_EQ(submissions(), unsure_submits + 1);  // the one the person asked for
  stop_daemon();
}

// A tmpfs mounted for one test (root only: CI runs as root), lazily unmounted at the end.
class SmallFilesystem {
 public:
  SmallFilesystem(const fs::path& where, const std::string& size) : where_(where) {
    fs::create_directories(where_);
    const std::string options = "size=" + size + ",mode=0755";
    if (::mount("lipsyncd-test", where_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      failure_ = std::string("cannot mount a tmpfs on ") + where_.string() + ": " +
                 std::strerror(errno) + " (this test needs root, as CI has)";
    }
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;
  ~SmallFilesystem() {
    if (failure_.empty()) ::umount2(where_.c_str(), MNT_DETACH);
  }
  const std::string& failure() const { return failure_; }

  // Writes a file until the filesystem is full.
  void fill(const fs::path& filler) const {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(1 << 16, 'x');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }

 private:
  fs::path where_;
  std::string failure_;
};

// The spool and the outbox share a small filesystem that fills up while fal works: the daemon
// says why it waits, keeps the job (no attempt used up, nothing to error/), and delivers once
// space returns, with the job store intact and one request paid.
TEST_F(CrashE2E, AFullDiskDefersTheJobUntilSpaceReturns) {
  const auto small = dir / "small";
  SmallFilesystem filesystem(small, "64m");
  ASSERT_TRUE(filesystem.failure().empty()) << filesystem.failure();
  start_emulator({.queue_delay_ms = 2000});
  settings["paths"]["state"] = "\"" + (small / "state").string() + "\"";
  settings["paths"]["outbox"] = "\"" + (small / "outbox").string() + "\"";
  settings["daemon"]["max_attempts"] = "2";  // a full disk must not use these up
  write_config();
  start_daemon();
  OutboxWatch watch(outbox());

  drop("real_talk_monalisa_720p.mp4", "full.mp4");
  drop("speech_1s.wav", "full.wav");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=submitted"), 120s)) << daemon->log();
  const auto filler = small / "filler.bin";
  filesystem.fill(filler);

  ASSERT_TRUE(
      daemon->wait_for_output(std::regex("reason_code=disk_full|No space left|disk is full"), 60s))
      << daemon->log();
  std::this_thread::sleep_for(6s);  // several retries while the disk stays full
  EXPECT_TRUE(daemon->running());
  EXPECT_FALSE(fs::exists(error() / "full.error.json")) << daemon->log();
  EXPECT_FALSE(fs::exists(outbox() / "full.lipsync.mp4"));

  fs::remove(filler);
  ASSERT_TRUE(delivered("full", 60s)) << daemon->log();
  EXPECT_TRUE(
      eventually([&] { return places_of("full.wav") == std::set<std::string>{"done"}; }, 10s));
  stop_daemon();

  watch.expect_only_complete("full.lipsync.mp4", fs::file_size(outbox() / "full.lipsync.mp4"));
  expect_delivered_once("full");
  const auto status = status_json();  // the store survived: readable, and says delivered
  ASSERT_EQ(status.at("jobs").as_array().size(), 1u);
  EXPECT_EQ(status.at("jobs").as_array()[0].at("state").as_string(), "delivered");
}

}  // namespace
}  // namespace lipsyncd::test
