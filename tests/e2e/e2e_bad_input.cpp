// Bad input (ctest label `bad_input`): every file MANIFEST.json says to reject, hostile file
// names, manifests that try to leave the inbox or are not JSON at all, symlinks, and broken
// configuration files. Each gets its own specific reason in error/ (or on stderr), nothing is
// paid for, nothing outside the inbox is touched, and the daemon stays up and keeps working.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "daemon_test.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using BadInputE2E = DaemonTest;

// Every file MANIFEST.json says to reject in its own role (as_video for a video or an image,
// as_audio for an audio file; broken files have a role too), paired with a good partner:
// error/ with the listed reason, and nothing uploaded or submitted.
TEST_F(BadInputE2E, EveryRejectCaseOfTheMediaManifestLandsInErrorWithItsReason) {
  const auto manifest = boost::json::parse(read_text(media("MANIFEST.json"))).as_array();
  std::map<std::string, std::string> expected;  // stem -> reason
  start_daemon();
  for (const auto& value : manifest) {
    const auto& entry = value.as_object();
    const std::string role(entry.at("role").as_string());
    const bool as_audio = role == "audio";
    const auto& verdict = entry.at(as_audio ? "as_audio" : "as_video").as_object();
    if (verdict.at("expected").as_string() != "reject") continue;
    const fs::path file(std::string(entry.at("file").as_string()));
    const auto stem = "bad_" + file.stem().string();
    drop(file.string(), stem + file.extension().string());
    // 12 s of speech: longer than every bad video, so the whole video is examined.
    drop(as_audio ? "talk_h264_aac.mp4" : "tts_en_12s.wav", stem + (as_audio ? ".mp4" : ".wav"));
    expected[stem] = verdict.at("reason").as_string();
  }
  ASSERT_GE(expected.size(), 10u);
  for (const auto& [stem, reason] : expected) {
    ASSERT_TRUE(rejected(stem, 120s)) << stem << "\n" << daemon->log();
    const auto report = read_json(error() / (stem + ".error.json"));
    EXPECT_EQ(report.at("reason_code").as_string(), reason) << stem;
    EXPECT_FALSE(report.at("message").as_string().empty()) << stem;
    EXPECT_FALSE(report.at("hint").as_string().empty()) << stem << ": no hint for " << reason;
  }
  EXPECT_EQ(uploads(), 0u);
  EXPECT_EQ(submissions(), 0u);
  EXPECT_TRUE(names_in(outbox()).empty());
  EXPECT_TRUE(daemon->running());
  stop_daemon();
}

// A copy cut off halfway: an MP4 with its index at the front (+faststart) whose data ends at
// half its bytes. It opens and its header states the full length; the daemon's packet pass
// finds the shortfall and refuses it as `truncated` before anything is uploaded or paid for.
TEST_F(BadInputE2E, AFileCutOffHalfwayIsRefusedAsTruncatedBeforeUpload) {
  const auto whole = dir / "whole.mp4";
  ASSERT_EQ(run_to_completion({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-i",
                               media("real_talk_monalisa_720p.mp4").string(), "-c", "copy",
                               "-movflags", "+faststart", whole.string()},
                              dir / "ffmpeg.log"),
            0);
  const auto cut = dir / "cut.mp4";
  fs::copy_file(whole, cut);
  fs::resize_file(cut, fs::file_size(whole) / 2);
  start_daemon();
  drop_file(cut, "halfway.mp4");
  drop("real_speech_16k.wav", "halfway.wav");
  ASSERT_TRUE(rejected("halfway", 120s)) << daemon->log();
  const auto report = read_json(error() / "halfway.error.json");
  EXPECT_EQ(report.at("reason_code").as_string(), "truncated");
  EXPECT_NE(report.at("hint").as_string().find("again"), std::string::npos);
  EXPECT_EQ(uploads(), 0u);
  EXPECT_EQ(submissions(), 0u);
  stop_daemon();
}

// Names with spaces, a newline, shell syntax, a leading dash, other scripts and emoji, and
// the longest name Linux allows: all delivered, the results named after them (shortened to
// fit when needed), the inputs archived under their own names.
TEST_F(BadInputE2E, HostileFileNamesAreDeliveredUnderTheirOwnNames) {
  settings["intake"]["duplicate_window_h"] = "0";  // same media each time: pay for each
  write_config();
  start_daemon();
  const std::string longest(251, 'L');  // + ".mp4": 255 bytes, the most a name may have
  const std::vector<std::string> stems = {"two  spaces\tand a tab",
                                          "new\nline",
                                          "$(touch pwned); rm -rf ~ `id` 'q' \"dq\"",
                                          "-starts-with-dash",
                                          "ünïcødé 日本語 مرحبا 🎬",
                                          longest};
  for (const auto& stem : stems) {
    drop("real_talk_monalisa_720p.mp4", stem + ".mp4");
    drop("speech_1s.wav", stem + ".wav");
  }
  for (const auto& stem : stems) {
    if (stem == longest) continue;
    ASSERT_TRUE(delivered(stem, 180s)) << "[" << stem << "]\n" << daemon->log();
    EXPECT_EQ(read_json(outbox() / (stem + ".lipsync.json")).at("inputs").as_array().size(), 2u);
  }
  // 251 bytes + ".lipsync.mp4" is over the limit: the stem is shortened, the suffix kept.
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& name : names_in(outbox())) {
          if (name.starts_with("LLLL") && name.ends_with(".lipsync.json")) return true;
        }
        return false;
      },
      180s))
      << daemon->log();
  for (const auto& name : names_in(outbox())) {
    EXPECT_LE(name.size(), 255u) << name;
    EXPECT_FALSE(name.starts_with(".")) << name;
  }
  EXPECT_EQ(names_in(outbox()).size(), 2 * stems.size());
  for (const auto& stem : stems) {
    EXPECT_TRUE(eventually([&] { return fs::exists(done() / (stem + ".wav")); }, 10s)) << stem;
    EXPECT_TRUE(fs::exists(done() / (stem + ".mp4"))) << stem;
  }
  EXPECT_FALSE(fs::exists(dir / "pwned"));
  EXPECT_FALSE(fs::exists(fs::current_path() / "pwned"));
  EXPECT_EQ(requests_created(), stems.size());
  EXPECT_TRUE(names_in(error()).empty()) << daemon->log();
  stop_daemon();
}

// Manifests that are empty, not JSON, of the wrong shape, or that point outside the inbox
// (.., absolute paths, a symlink), and a symlink dropped as a video: each rejected with its
// own reason, the file outside untouched, nothing uploaded, the daemon still working.
TEST_F(BadInputE2E, HostileManifestsAndSymlinksAreRefusedWithTheirReason) {
  const auto outside = dir / "outside.mp4";
  fs::copy_file(media("real_talk_monalisa_720p.mp4"), outside);
  const auto outside_bytes = read_text(outside);
  start_daemon();

  drop("speech_1s.wav", "partner.wav");
  drop("real_talk_monalisa_720p.mp4", "partner.mp4", inbox() / "kept");
  fs::create_directories(dir / "staging");
  fs::create_symlink(outside, dir / "staging" / "linked.mp4");
  fs::rename(dir / "staging" / "linked.mp4", inbox() / "linked.mp4");
  drop_text("empty.job.json", "");
  drop_text("broken.job.json", R"({"video": "a.mp4", "audio": )");
  drop_text("array.job.json", R"(["a.mp4", "b.wav"])");
  drop_text("typo.job.json", R"({"vidoe": "a.mp4", "audio": "partner.wav"})");
  drop_text("mode.job.json", R"({"video": "kept/partner.mp4", "audio": "partner.wav",
                                 "sync_mode": "warp"})");
  drop_text("dotdot.job.json", R"({"video": "../outside.mp4", "audio": "partner.wav"})");
  drop_text("absolute.job.json",
            R"({"video": ")" + outside.string() + R"(", "audio": "partner.wav"})");
  drop_text("missing.job.json", R"({"video": "nowhere.mp4", "audio": "partner.wav"})");

  const std::map<std::string, std::string> expected = {
      {"linked", "symlink_not_followed"}, {"empty", "bad_manifest"},
      {"broken", "bad_manifest"},         {"array", "bad_manifest"},
      {"typo", "bad_manifest"},           {"mode", "bad_manifest"},
      {"dotdot", "path_outside_inbox"},   {"absolute", "path_outside_inbox"},
      {"missing", "missing_input"}};
  for (const auto& [stem, reason] : expected) {
    ASSERT_TRUE(rejected(stem, 60s)) << stem << "\n" << daemon->log();
    const auto report = read_json(error() / (stem + ".error.json"));
    EXPECT_EQ(report.at("reason_code").as_string(), reason) << stem;
    EXPECT_FALSE(report.at("hint").as_string().empty()) << stem;
    EXPECT_TRUE(daemon->log().find("reason_code=" + reason) != std::string::npos) << reason;
  }
  // The link itself went to error/, still a link; what it points to was never touched.
  EXPECT_TRUE(fs::is_symlink(error() / "linked.mp4")) << daemon->log();
  EXPECT_EQ(read_text(outside), outside_bytes);
  EXPECT_EQ(uploads(), 0u);
  EXPECT_EQ(submissions(), 0u);

  // Still working: a good pair goes through.
  drop("real_talk_monalisa_720p.mp4", "fine.mp4");
  drop("speech_1s.wav", "fine.wav");
  ASSERT_TRUE(delivered("fine", 120s)) << daemon->log();
  stop_daemon();
}

// A configuration that is not TOML, or names a key that does not exist: `run` refuses to
// start with the line and the key (exit 78, EX_CONFIG, which the unit does not restart on);
// the same on SIGHUP keeps the running configuration and the daemon.
TEST_F(BadInputE2E, BrokenConfigurationIsRefusedWithWhereAndWhy) {
  const auto broken = dir / "broken.toml";
  std::ofstream(broken) << "[paths]\ninbox = \"inbox\"\n[fal\nqueue_url = 3\n";
  const auto log = dir / "broken.log";
  EXPECT_EQ(run_to_completion(
                {(bin_dir() / "lipsyncd").string(), "run", "--config", broken.string()}, log, 30s),
            78);
  const auto said = read_text(log);
  EXPECT_NE(said.find("line 3"), std::string::npos) << said;
  EXPECT_NE(said.find("bad_config"), std::string::npos) << said;

  std::ofstream(broken) << "[paths]\ninbox = \"inbox\"\n[intake]\nsettle_sec = 1\n";
  EXPECT_EQ(run_to_completion(
                {(bin_dir() / "lipsyncd").string(), "run", "--config", broken.string()}, log, 30s),
            78);
  EXPECT_NE(read_text(log).find("settle_sec"), std::string::npos) << read_text(log);

  start_daemon();
  std::ofstream(config_file, std::ios::app) << "[daemon\n";
  daemon->signal(SIGHUP);
  ASSERT_TRUE(daemon->wait_for_output(std::regex("reload refused.*line"), 10s)) << daemon->log();
  EXPECT_TRUE(daemon->running());
  drop("real_talk_monalisa_720p.mp4", "after.mp4");
  drop("speech_1s.wav", "after.wav");
  ASSERT_TRUE(delivered("after", 120s)) << daemon->log();
  stop_daemon();
}

}  // namespace
}  // namespace lipsyncd::test
