// Intake under real users' tools (ctest label `intake`, a reliability suite): a file appended
// in many open/append/close rounds is one job paid once; the inbox deleted under a running
// daemon pauses intake (unhealthy, with the reason) while the job at fal is delivered, and
// resumes when the folder is back; FIFOs go to error/ with their reason, never opened; folder
// jobs leave no empty folders behind.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
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

class IntakeE2E : public DaemonTest {
 protected:
  void use_metrics() {
    metrics_port = free_port();
    settings["metrics"]["listen"] = "\"127.0.0.1:" + std::to_string(metrics_port) + "\"";
  }
  std::string healthz() { return http_get(metrics_port, "/healthz"); }
  // The status code of /healthz, 0 when nothing answers.
  int health_code() {
    std::smatch match;
    const std::string response = healthz();
    return std::regex_search(response, match, std::regex("^HTTP/1\\.[01] (\\d+)"))
               ? std::stoi(match[1].str())
               : 0;
  }
  bool healthy() { return health_code() == 200; }

  std::size_t accepted_jobs() const {
    std::size_t count = 0;
    const std::string log = daemon->log();
    const std::regex accepted("event=accepted");
    for (auto it = std::sregex_iterator(log.begin(), log.end(), accepted);
         it != std::sregex_iterator(); ++it) {
      ++count;
    }
    return count;
  }

  int metrics_port = 0;
};

// The reproduction of issue 10 case 4: the head of a faststart MP4 passes the media checks,
// so a daemon that takes it after the first round pays for it, then splits the user's file.
TEST_F(IntakeE2E, AFileAppendedInManyRoundsIsOneJobDeliveredAndPaidOnce) {
  settings["intake"]["settle_s"] = "1.5";
  settings["intake"]["partner_wait_s"] = "60";
  start_daemon();
  drop("pair_eq_audio.wav", "slow.wav");
  const std::string video = read_text(media("pair_eq_video.mp4"));
  ASSERT_GT(video.size(), 300'000u);
  constexpr std::size_t kChunk = 16 * 1024;
  int rounds = 0;
  for (std::size_t at = 0; at < video.size(); at += kChunk, ++rounds) {
    // `cat part >> slow.mp4`: open, append, close; then a pause shorter than settle_s.
    const int fd = ::open((inbox() / "slow.mp4").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ASSERT_GE(fd, 0);
    const auto part = video.substr(at, kChunk);
    ASSERT_EQ(::write(fd, part.data(), part.size()), static_cast<ssize_t>(part.size()));
    ::close(fd);
    std::this_thread::sleep_for(150ms);
  }
  ASSERT_GE(rounds, 20);
  ASSERT_TRUE(delivered("slow")) << daemon->log();
  // The inputs are archived just after the result and its sidecar appear.
  EXPECT_TRUE(
      eventually([&] { return places_of("slow.wav") == std::set<std::string>{"done"}; }, 10s));
  expect_delivered_once("slow");
  EXPECT_EQ(submissions(), 1u) << "fal's log shows another submit";
  EXPECT_EQ(fs::file_size(done() / "slow.mp4"), video.size()) << "a part was taken, not all";
  EXPECT_TRUE(names_in(error()).empty()) << "the user's file was split into error/";
  EXPECT_EQ(accepted_jobs(), 1u) << daemon->log();
}

// Issue 10 case 5: rm -rf of the inbox while a job is at fal.
TEST_F(IntakeE2E, DeletingTheInboxPausesIntakeButNotTheDaemonAndItResumesWhenTheFolderIsBack) {
  start_emulator({.processing_ms = 4000});
  use_metrics();
  start_daemon();
  ASSERT_TRUE(eventually([&] { return healthy(); }, 10s)) << healthz();
  drop("talk_h264_aac.mp4", "first.mp4");
  drop("speech_5s.wav", "first.wav");
  ASSERT_TRUE(eventually([&] { return requests_created() == 1; }, 60s)) << daemon->log();

  fs::remove_all(inbox());
  ASSERT_TRUE(eventually([&] { return health_code() == 503; }, 10s)) << healthz();
  EXPECT_TRUE(std::regex_search(healthz(), std::regex("unhealthy: the inbox .* was deleted")))
      << healthz();
  EXPECT_TRUE(daemon->wait_for_output(std::regex("intake paused: the inbox .* was deleted"), 5s))
      << daemon->log();
  EXPECT_TRUE(daemon->running()) << daemon->log();

  // The job at fal goes on and is delivered while intake is paused.
  ASSERT_TRUE(delivered("first")) << daemon->log();
  EXPECT_TRUE(daemon->running());
  EXPECT_FALSE(healthy());

  fs::create_directories(inbox());
  ASSERT_TRUE(eventually([&] { return healthy(); }, 10s)) << healthz() << daemon->log();
  EXPECT_TRUE(daemon->wait_for_output(std::regex("intake resumed"), 5s)) << daemon->log();
  // Another pair (the same one again would be delivered from the duplicate guard, unpaid).
  drop("pair_eq_video.mp4", "second.mp4");
  drop("pair_eq_audio.wav", "second.wav");
  ASSERT_TRUE(delivered("second")) << daemon->log();
  EXPECT_EQ(requests_created(), 2u);
  stop_daemon();
}

// Issue 10 case 7: a FIFO never blocks intake and never stays in the inbox without a word.
TEST_F(IntakeE2E, AFifoInTheInboxGoesToErrorWithItsReasonAndNothingBlocks) {
  start_daemon();
  ASSERT_EQ(::mkfifo((inbox() / "pipe.mp4").c_str(), 0644), 0);
  ASSERT_TRUE(rejected("pipe")) << daemon->log();
  EXPECT_EQ(reason_of("pipe"), "not_a_regular_file");
  struct stat info {};
  ASSERT_EQ(::lstat((error() / "pipe.mp4").c_str(), &info), 0);
  EXPECT_TRUE(S_ISFIFO(info.st_mode)) << "moved as the FIFO it is";
  EXPECT_FALSE(fs::exists(fs::symlink_status(inbox() / "pipe.mp4")));
  EXPECT_TRUE(daemon->wait_for_output(std::regex("not_a_regular_file"), 5s)) << daemon->log();

  // The daemon still works: a pair dropped after it is delivered.
  drop("talk_h264_aac.mp4", "clip.mp4");
  drop("speech_5s.wav", "clip.wav");
  ASSERT_TRUE(delivered("clip")) << daemon->log();
  EXPECT_EQ(requests_created(), 1u);
}

// Issue 10 case 7: folder jobs, taken or rejected, leave no empty folders in the inbox.
TEST_F(IntakeE2E, FolderJobsLeaveNoEmptyNestedFoldersBehind) {
  start_daemon();
  const auto take = staging() / "take 1";
  drop("talk_h264_aac.mp4", "clip.mp4", take / "camera" / "raw");
  drop("speech_5s.wav", "voice.wav", take / "mic");
  const auto lonely = staging() / "lonely";
  drop("talk_h264_aac.mp4", "clip.mp4", lonely / "camera");
  fs::rename(take, inbox() / "take 1");
  fs::rename(lonely, inbox() / "lonely");

  ASSERT_TRUE(delivered("take 1")) << daemon->log();
  ASSERT_TRUE(rejected("clip")) << daemon->log();  // lonely: no audio, after partner_wait_s
  EXPECT_EQ(reason_of("clip"), "no_audio_found");
  EXPECT_TRUE(fs::exists(error() / "lonely" / "camera" / "clip.mp4"));
  EXPECT_TRUE(eventually([&] { return fs::is_empty(inbox()); }, 5s))
      << "left in the inbox: " << [&] {
           std::string names;
           for (const auto& entry : fs::recursive_directory_iterator(inbox())) {
             names += entry.path().lexically_relative(inbox()).string() + " ";
           }
           return names;
         }();
  EXPECT_EQ(requests_created(), 1u);
}

}  // namespace
}  // namespace lipsyncd::test
