// The real `lipsyncd run` against the fal emulator on real media: pairing forms, rejections,
// duplicates, the budget cap, reload, sd_notify, and the status/retry/cancel commands. The
// reliability suites (faults, crashes, bad input, load) have files of their own.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "daemon_test.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using DaemonE2E = DaemonTest;

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

// [face] detector = "ssd" makes the daemon judge faces with OpenCV's SSD, whose model the user
// points to with [face] ssd_model: a head tilted 45 degrees, which the default Haar cascade
// cannot see (the second pair shows it: rejected no_face), is delivered. Without a readable
// model the daemon does not start: exit 78, naming the key.
TEST_F(DaemonE2E, TheSsdDetectorDeliversAPairWhenConfigured) {
  const auto tilted = dir / "tilted_45.mp4";
  ASSERT_EQ(
      run_to_completion({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-i",
                         media("talk_h264_aac.mp4").string(), "-t", "3", "-vf", "rotate=45*PI/180",
                         "-c:v", "libx264", "-preset", "ultrafast", "-an", tilted.string()},
                        dir / "ffmpeg.log", 60s),
      0);

  settings["face"]["detector"] = "\"ssd\"";
  settings["face"]["ssd_model"] = "\"" + (dir / "missing.pb").string() + "\"";
  write_config();
  {
    ChildProcess refused(
        {(bin_dir() / "lipsyncd").string(), "run", "--config", config_file.string()},
        dir / "refused.log",
        ChildOptions{{"FAL_KEY=" + emulator->key()},
                     {"NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM"}});
    const auto code = refused.wait_for_exit(30s);
    ASSERT_TRUE(code.has_value()) << refused.log();
    EXPECT_EQ(*code, 78) << refused.log();
    EXPECT_NE(refused.log().find("[face] ssd_model"), std::string::npos) << refused.log();
  }

  settings["face"]["ssd_model"] = "\"" + ssd_model().string() + "\"";
  write_config();
  start_daemon();
  drop_file(tilted, "tilted.mp4");
  drop("speech_5s.wav", "tilted.wav");
  ASSERT_TRUE(delivered("tilted")) << daemon->log();
  EXPECT_EQ(submissions(), 1u);
  stop_daemon();

  settings["face"].erase("detector");
  settings["face"].erase("ssd_model");
  write_config();
  start_daemon();
  drop_file(tilted, "tilted_haar.mp4");
  drop("speech_1s.wav", "tilted_haar.wav");  // other content: not a duplicate of the first
  ASSERT_TRUE(rejected("tilted_haar")) << daemon->log();
  EXPECT_EQ(reason_of("tilted_haar"), "no_face");
  EXPECT_EQ(submissions(), 1u);
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
  settings["budget"]["daily_usd"] = "0.01";  // the pair costs about 0.05 USD
  write_config();
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

  settings["budget"]["daily_usd"] = "10";
  write_config();
  daemon->signal(SIGHUP);
  ASSERT_TRUE(delivered("pricey")) << daemon->log();
  EXPECT_EQ(submissions(), 1u);
  const auto after = run_cli({"status"}, &code);
  EXPECT_NE(after.find("spend (UTC): today $0.0"), std::string::npos) << after;
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

}  // namespace
}  // namespace lipsyncd::test
