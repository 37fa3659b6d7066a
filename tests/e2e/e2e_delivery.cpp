// Delivery reliability (ctest label `e2e-reliability-delivery`): the ways a paid result could be
// lost or paid for twice at the very end, reproduced against the real daemon and the emulator
// (issue 10, cases 1 and 2). A manifest's "output" never replaces another file in outbox/, and a
// name that is not a video's is refused before anything is paid. An outbox lipsyncd cannot
// write to (immutable, read-only) keeps the paid result waiting, loudly, without using up
// attempts and without a second submit; it is delivered once fixed. `lipsyncd retry` of a job
// fal already has delivers what fal made instead of paying again.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "daemon_test.hpp"
#include "loopback_http.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class DeliveryE2E : public DaemonTest {
 protected:
  // Drops a manifest job whose video and audio have different stems (no same-stem pairing).
  void drop_manifest_job(const std::string& stem, const std::string& audio,
                         const std::string& output) {
    drop("real_talk_monalisa_720p.mp4", stem + "-face.mp4");
    drop(audio, stem + "-voice.wav");
    drop_text(stem + ".job.json", R"({"video": ")" + stem + R"(-face.mp4", "audio": ")" + stem +
                                      R"(-voice.wav", "output": ")" + output + R"("})");
  }
};

// Case 1: a manifest may not name its result like another job's (or its own) files.
TEST_F(DeliveryE2E, AManifestOutputNeverReplacesAnotherJobsVideoOrSidecar) {
  write_config();
  start_daemon();
  drop("real_talk_monalisa_720p.mp4", "t0.mp4");
  drop("speech_1s.wav", "t0.wav");
  ASSERT_TRUE(delivered("t0")) << daemon->log();
  const auto t0_video = read_text(outbox() / "t0.lipsync.mp4");
  const auto t0_sidecar = read_text(outbox() / "t0.lipsync.json");

  // Same video name, and a .mov whose sidecar name is t0's.
  drop_manifest_job("same", "tts_en_1s.wav", "t0.lipsync.mp4");
  drop_manifest_job("mov", "speech_5s.wav", "t0.lipsync.mov");
  ASSERT_TRUE(eventually(
      [&] {
        return fs::exists(outbox() / "t0.lipsync-2.json") &&
               fs::exists(outbox() / "t0.lipsync-3.json");
      },
      120s))
      << daemon->log();

  EXPECT_EQ(read_text(outbox() / "t0.lipsync.mp4"), t0_video) << "t0's video was replaced";
  EXPECT_EQ(read_text(outbox() / "t0.lipsync.json"), t0_sidecar) << "t0's sidecar was replaced";
  EXPECT_EQ(read_json(outbox() / "t0.lipsync.json").at("inputs").as_array().size(), 2u);
  // Each job's video and sidecar keep one common number; nothing else is there.
  std::set<std::string> videos;
  for (const auto& name : names_in(outbox())) {
    if (!name.ends_with(".json")) videos.insert(name);
  }
  EXPECT_EQ(videos.size(), 3u) << "a video is missing or doubled";
  for (const auto& video : videos) {
    const auto sidecar = fs::path(video).replace_extension(".json").string();
    ASSERT_TRUE(fs::exists(outbox() / sidecar)) << video << " has no sidecar";
    EXPECT_GT(fs::file_size(outbox() / video), 10000u) << video << " is not a video";
  }
  EXPECT_EQ(names_in(outbox()).size(), 6u);
  EXPECT_EQ(requests_created(), 3u);
  stop_daemon();
}

// Case 1: "result.json" would have been overwritten by its own sidecar; a folder would leave
// the outbox. Both are refused with their own reason before anything is uploaded or paid.
TEST_F(DeliveryE2E, AManifestOutputThatIsNotAVideoNameIsRefusedBeforeAnythingIsPaid) {
  write_config();
  start_daemon();
  drop_manifest_job("json", "speech_1s.wav", "result.json");
  drop_manifest_job("nested", "tts_en_1s.wav", "sub/result.mp4");
  ASSERT_TRUE(rejected("json")) << daemon->log();
  ASSERT_TRUE(rejected("nested")) << daemon->log();
  EXPECT_EQ(reason_of("json"), "bad_output_name");
  EXPECT_EQ(reason_of("nested"), "bad_output_name");
  const auto message =
      std::string(read_json(error() / "json.error.json").at("message").as_string());
  EXPECT_NE(message.find("result.json"), std::string::npos) << message;
  std::this_thread::sleep_for(3s);  // past the partner wait: the inputs are not paired later
  EXPECT_EQ(uploads(), 0u);
  EXPECT_EQ(submissions(), 0u);
  EXPECT_TRUE(names_in(outbox()).empty());
  EXPECT_TRUE(daemon->running());
  stop_daemon();
}

// How a folder is made unwritable for root, who ignores permission bits.
enum class Blocker { immutable_flag, read_only_mount };

void PrintTo(Blocker blocker, std::ostream* out) {
  *out << (blocker == Blocker::immutable_flag ? "immutable_flag" : "read_only_mount");
}

// Makes a folder refuse new entries until lift() (or the end of the test).
class UnwritableFolder {
 public:
  UnwritableFolder(fs::path folder, Blocker blocker) : folder_(std::move(folder)), how_(blocker) {
    fs::create_directories(folder_);
    if (how_ == Blocker::immutable_flag) {
      set_immutable(true);  // chattr +i: EPERM for everyone, root included
    } else if (::mount(folder_.c_str(), folder_.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
               ::mount(nullptr, folder_.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY,
                       nullptr) != 0) {
      failure_ = "cannot bind-mount " + folder_.string() + " read-only: " + std::strerror(errno) +
                 " (this test needs root, as CI has)";
    }
    if (failure_.empty()) active_ = true;
  }
  UnwritableFolder(const UnwritableFolder&) = delete;
  UnwritableFolder& operator=(const UnwritableFolder&) = delete;
  ~UnwritableFolder() { lift(); }

  const std::string& failure() const { return failure_; }

  void lift() {
    if (!active_) return;
    active_ = false;
    if (how_ == Blocker::immutable_flag) {
      set_immutable(false);
    } else {
      ::umount2(folder_.c_str(), MNT_DETACH);
    }
  }

 private:
  void set_immutable(bool on) {
    const int fd = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int flags = 0;
    if (fd < 0 || ::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
      failure_ = "cannot read the flags of " + folder_.string() + ": " + std::strerror(errno);
    } else {
      flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
      if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
        failure_ = "cannot set the immutable flag on " + folder_.string() + ": " +
                   std::strerror(errno) + " (needs root and a filesystem with chattr +i)";
      }
    }
    if (fd >= 0) ::close(fd);
  }

  fs::path folder_;
  Blocker how_;
  bool active_ = false;
  std::string failure_;
};

class BlockedOutboxE2E : public DaemonTest, public ::testing::WithParamInterface<Blocker> {
 protected:
  std::string metrics() {
    const auto log = dir / "metrics.txt";
    fs::remove(log);
    run_to_completion({"/usr/bin/curl", "-sS", "http://" + metrics_address + "/metrics"}, log, 10s);
    return read_text(log);
  }
  bool metric_says_blocked(int jobs) {
    const auto line = "lipsyncd_delivery_blocked{reason_code=\"delivery_blocked\"} " +
                      std::to_string(jobs) + "\n";
    return eventually([&] { return metrics().find(line) != std::string::npos; }, 10s);
  }

  std::string metrics_address = "127.0.0.1:" + std::to_string(free_port());
};

// Case 2: the outbox refuses the paid result. The job waits (no attempt used up, nothing to
// error/, never submitted again), says why in the log, in `status` and in a metric, and is
// delivered by itself, exactly once, when the outbox is writable again.
TEST_P(BlockedOutboxE2E, AnUnwritableOutboxDefersThePaidJobUntilFixedWithoutPayingAgain) {
  settings["daemon"]["max_attempts"] = "2";  // a blocked outbox must not use these up
  settings["daemon"]["heartbeat_s"] = "1";
  settings["metrics"]["listen"] = "\"" + metrics_address + "\"";
  write_config();
  start_daemon();
  UnwritableFolder blocked(outbox(), GetParam());
  ASSERT_TRUE(blocked.failure().empty()) << blocked.failure();

  drop("real_talk_monalisa_720p.mp4", "held.mp4");
  drop("speech_1s.wav", "held.wav");
  ASSERT_TRUE(
      daemon->wait_for_output(std::regex("event=deferred.*reason_code=delivery_blocked"), 120s))
      << daemon->log();
  std::this_thread::sleep_for(6s);  // several retries (1-2 s apart) while it stays blocked
  EXPECT_TRUE(daemon->running());
  EXPECT_FALSE(fs::exists(error() / "held.error.json")) << daemon->log();
  EXPECT_TRUE(names_in(outbox()).empty());
  EXPECT_EQ(submissions(), 1u) << "the paid job was submitted again";

  const auto status = status_json();
  ASSERT_EQ(status.at("jobs").as_array().size(), 1u);
  const auto& job = status.at("jobs").as_array()[0].as_object();
  EXPECT_EQ(job.at("state").as_string(), "deferred");
  EXPECT_EQ(job.at("stage").as_string(), "completed");
  EXPECT_EQ(job.at("reason_code").as_string(), "delivery_blocked");
  EXPECT_EQ(job.at("attempts").as_int64(), 0);
  EXPECT_TRUE(metric_says_blocked(1)) << metrics();

  blocked.lift();
  ASSERT_TRUE(delivered("held", 60s)) << daemon->log();
  EXPECT_TRUE(
      eventually([&] { return places_of("held.wav") == std::set<std::string>{"done"}; }, 10s));
  EXPECT_TRUE(metric_says_blocked(0)) << metrics();
  stop_daemon();
  expect_delivered_once("held");
  EXPECT_EQ(submissions(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Blockers, BlockedOutboxE2E,
                         ::testing::Values(Blocker::immutable_flag, Blocker::read_only_mount),
                         [](const ::testing::TestParamInfo<Blocker>& blocker) {
                           return blocker.param == Blocker::immutable_flag ? "immutable_flag"
                                                                           : "read_only_mount";
                         });

// Case 2: a job fal already has fails locally until its attempts run out; `lipsyncd retry`
// goes on from what is known, never with a second submit: polling its request when the status
// polls kept failing, downloading and delivering when fal had finished but the download kept
// failing.
struct RetryCase {
  std::string name;
  std::string failing_path;  // emulator route that keeps answering 503
  std::string retried_state;
  std::string promise;  // what `retry` says happens
};

void PrintTo(const RetryCase& retry, std::ostream* out) {
  *out << retry.name;
}

class RetryWithoutPayingE2E : public DaemonTest, public ::testing::WithParamInterface<RetryCase> {};

TEST_P(RetryWithoutPayingE2E, RetryOfAFailedJobFalHasDeliversItWithoutASecondSubmit) {
  const auto& retry = GetParam();
  emulator->set_faults(R"({"method": "GET", "path": ")" + retry.failing_path +
                       R"(", "action": "status", "status": 503, "times": -1})");
  settings["daemon"]["max_attempts"] = "1";
  write_config();
  start_daemon();
  drop("real_talk_monalisa_720p.mp4", "again.mp4");
  drop("speech_1s.wav", "again.wav");
  ASSERT_TRUE(rejected("again", 180s)) << daemon->log();
  const auto report = read_json(error() / "again.error.json");
  ASSERT_TRUE(report.contains("request_id"));
  const std::string job_id(report.at("job_id").as_string());
  ASSERT_EQ(submissions(), 1u);
  // The failed job's spool folder is gone: nothing in it is needed to poll or download again.
  EXPECT_TRUE(eventually([&] { return !fs::exists(state() / "spool" / job_id); }, 5s));
  EXPECT_EQ(places_of("again.mp4"), (std::set<std::string>{"error"}));

  emulator->clear_faults();
  int code = -1;
  const auto said = run_cli({"retry", job_id}, &code);
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("-> " + retry.retried_state), std::string::npos) << said;
  EXPECT_NE(said.find(retry.promise), std::string::npos) << said;
  ASSERT_TRUE(delivered("again", 120s)) << daemon->log();
  stop_daemon();
  expect_delivered_once("again");
  EXPECT_EQ(submissions(), 1u) << "retry paid a second time";
}

INSTANTIATE_TEST_SUITE_P(Retries, RetryWithoutPayingE2E,
                         ::testing::Values(RetryCase{"status_kept_failing",
                                                     "^/fal-ai/sync-lipsync/requests/[^/]+/status$",
                                                     "submitted", "nothing is submitted again"},
                                           RetryCase{"download_kept_failing", "^/files/.*$",
                                                     "completed", "nothing is paid again"}),
                         [](const ::testing::TestParamInfo<RetryCase>& retry) {
                           return retry.param.name;
                         });

// Case 9 / 7: a cancelled held job leaves nothing in the spool; its inputs are in error/.
TEST_F(DeliveryE2E, CancelOfAHeldJobRemovesItsSpoolFolder) {
  settings["budget"]["daily_usd"] = "0.0001";  // every job is held by the budget
  write_config();
  start_daemon();
  drop("real_talk_monalisa_720p.mp4", "parked.mp4");
  drop("speech_1s.wav", "parked.wav");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held"), 120s)) << daemon->log();
  const auto status = status_json();
  ASSERT_EQ(status.at("jobs").as_array().size(), 1u);
  const std::string job_id(status.at("jobs").as_array()[0].at("id").as_string());
  ASSERT_TRUE(fs::exists(state() / "spool" / job_id));

  int code = -1;
  const auto said = run_cli({"cancel", job_id}, &code);
  EXPECT_EQ(code, 0) << said;
  EXPECT_FALSE(fs::exists(state() / "spool" / job_id)) << said;
  EXPECT_EQ(places_of("parked.mp4"), (std::set<std::string>{"error"}));
  EXPECT_EQ(places_of("parked.wav"), (std::set<std::string>{"error"}));
  EXPECT_EQ(submissions(), 0u);
  stop_daemon();
}

}  // namespace
}  // namespace lipsyncd::test
