// `lipsyncd check` on the large cases of ../shared/media/make-large.sh (over 10 minutes,
// exactly 10 minutes, a 2-hour WAV, 4K at 60 fps): right verdicts, within bounded memory
// (the child's peak RSS from wait4). The media are made once into LIPSYNCD_LARGE_MEDIA
// (default: build/large-media, shared with bench/run). Slow: about a minute when cached.

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "test_media.hpp"

extern char** environ;

namespace lipsyncd::test {
namespace {

// Peak memory a whole `lipsyncd check` may use on any of these inputs.
constexpr long kMaxRssKiB = 400 * 1024;

std::filesystem::path large_media_dir() {
  return env_path("LIPSYNCD_LARGE_MEDIA", bin_dir().parent_path() / "large-media");
}

std::filesystem::path large_media(const std::string& make_case, const std::string& file) {
  const auto dir = large_media_dir();
  std::filesystem::create_directories(dir);
  if (!std::filesystem::exists(dir / file)) {
    const int made =
        run_to_completion({(media_dir() / "make-large.sh").string(), dir.string(), make_case},
                          dir / "make-large.log", std::chrono::minutes(10));
    EXPECT_EQ(made, 0) << "make-large.sh " << make_case << " failed; see "
                       << dir / "make-large.log";
  }
  return dir / file;
}

struct MeasuredRun {
  int exit_code = -1;
  long max_rss_kib = 0;
  boost::json::object report;
};

// Runs `lipsyncd check --json` and reaps it with wait4, which reports that child's own peak RSS.
MeasuredRun check_measured(const std::vector<std::string>& arguments) {
  TempDir dir;
  std::vector<std::string> argv = {(bin_dir() / "lipsyncd").string(), "check", "--json"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const auto log = dir / "check.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT, 0644);
  pid_t pid = -1;
  MeasuredRun run;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(spawned, 0);
  if (spawned != 0) return run;
  int status = 0;
  rusage usage{};
  EXPECT_EQ(::wait4(pid, &status, 0, &usage), pid);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.max_rss_kib = usage.ru_maxrss;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code error;
  const auto value = boost::json::parse(text.str(), error);
  EXPECT_FALSE(error) << text.str();
  if (!error) run.report = value.as_object();
  return run;
}

// A configuration file in `dir` with `toml` in it, as check --config arguments.
std::vector<std::string> with_config(const TempDir& dir, const std::string& toml) {
  const auto file = dir / "lipsyncd.toml";
  std::ofstream(file) << toml;
  return {"--config", file.string()};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The mean level of [at - 0.1 s, at + 0.1 s] of the file's audio, by ffmpeg's volumedetect:
// a measurement independent of lipsyncd's own envelope.
double mean_volume_around(const std::filesystem::path& file, double at) {
  TempDir dir;
  const auto log = dir / "volume.log";
  const int ran = run_to_completion(
      {"/usr/bin/ffmpeg", "-nostdin", "-hide_banner", "-ss", std::to_string(at - 0.1), "-t", "0.2",
       "-i", file.string(), "-vn", "-af", "volumedetect", "-f", "null", "-"},
      log, std::chrono::minutes(1));
  EXPECT_EQ(ran, 0) << read_text(log);
  const std::string text = read_text(log);
  const auto where = text.find("mean_volume: ");
  if (where == std::string::npos) {
    ADD_FAILURE() << "no mean_volume in " << text;
    return 0;
  }
  return std::stod(text.substr(where + 13));
}

TEST(CheckLargeMedia, ElevenMinuteVideoIsPreTrimmedOrPlannedAsTwoSegments) {
  const auto video = large_media("over_10min", "over_10min.mp4");
  // Default policy: the audio is shorter, so only 42 s of the video would be used...
  const MeasuredRun trimmed =
      check_measured({video.string(), media("real_speech_42s.mp3").string()});
  EXPECT_NEAR(trimmed.report.at("video_span").at("duration_s").to_number<double>(), 41.856, 0.001);
  // ...and its one speaker counts as one face: a plain accept, no multiple_faces warning.
  EXPECT_EQ(trimmed.exit_code, 0) << boost::json::serialize(trimmed.report);
  EXPECT_EQ(trimmed.report.at("verdict").as_string(), "accept");
  EXPECT_TRUE(trimmed.report.at("reason_code").is_null());
  EXPECT_EQ(trimmed.report.at("face").at("max_faces").to_number<int>(), 1);
  EXPECT_TRUE(trimmed.report.at("long_form").is_null());
  // Keeping the whole 11 minutes (silence pads the audio) is more than one request takes: a
  // long-form job of two segments, the cut in the padded silence after the speech.
  const MeasuredRun whole = check_measured(
      {video.string(), media("real_speech_42s.mp3").string(), "--sync-mode", "silence"});
  EXPECT_EQ(whole.exit_code, 0) << boost::json::serialize(whole.report);
  const auto& segments = whole.report.at("long_form").at("segments").as_array();
  ASSERT_EQ(segments.size(), 2u) << boost::json::serialize(whole.report);
  EXPECT_NE(segments[0].at("end_cut").as_string(), "no_pause");
  EXPECT_LT(trimmed.max_rss_kib, kMaxRssKiB);
  EXPECT_LT(whole.max_rss_kib, kMaxRssKiB);
}

TEST(CheckLargeMedia, ElevenMinutesIsTooLongWithLongFormOffOrOverItsTotal) {
  const auto video = large_media("over_10min", "over_10min.mp4");
  TempDir dir;
  const std::vector<std::string> pair = {video.string(), media("real_speech_42s.mp3").string(),
                                         "--sync-mode", "silence"};
  const MeasuredRun off = check_measured(pair + with_config(dir, "[longform]\nenabled = false\n"));
  EXPECT_EQ(off.exit_code, 1);
  EXPECT_EQ(off.report.at("reason_code").as_string(), "video_too_long");
  EXPECT_NE(off.report.at("message").as_string().find("[longform] enabled = false"),
            std::string::npos)
      << off.report.at("message").as_string();
  EXPECT_TRUE(off.report.at("long_form").is_null());
  const MeasuredRun over =
      check_measured(pair + with_config(dir, "[longform]\nmax_total_s = 600\n"));
  EXPECT_EQ(over.exit_code, 1);
  EXPECT_EQ(over.report.at("reason_code").as_string(), "video_too_long");
  EXPECT_NE(over.report.at("message").as_string().find("[longform] max_total_s"), std::string::npos)
      << over.report.at("message").as_string();
  // remap cannot be split.
  const MeasuredRun remap =
      check_measured({video.string(), video.string(), "--sync-mode", "remap"});
  EXPECT_EQ(remap.exit_code, 1);
  EXPECT_EQ(remap.report.at("reason_code").as_string(), "remap_too_long");
}

TEST(CheckLargeMedia, ElevenMinuteTalkIsTwoSegmentsCutInsideSpeechPauses) {
  const auto video = large_media("over_10min", "over_10min.mp4");
  // Its own speech as the audio: cut_off, 660 s of output, over the 600 s of one request.
  const MeasuredRun run = check_measured({video.string(), video.string()});
  EXPECT_EQ(run.exit_code, 0) << boost::json::serialize(run.report);
  EXPECT_EQ(run.report.at("sync_mode").as_string(), "cut_off");
  const auto& plan = run.report.at("long_form");
  ASSERT_TRUE(plan.is_object()) << boost::json::serialize(run.report);
  const auto& segments = plan.at("segments").as_array();
  ASSERT_EQ(segments.size(), 2u);
  double total_usd = 0;
  double at = 0;
  for (const auto& value : segments) {
    const auto& segment = value.as_object();
    EXPECT_NEAR(segment.at("start_s").to_number<double>(), at, 1e-3);
    EXPECT_LE(segment.at("duration_s").to_number<double>(), 540);
    EXPECT_GE(segment.at("face").at("visible_ratio").to_number<double>(), 0.9);
    total_usd += segment.at("estimated_cost_usd").to_number<double>();
    at = segment.at("end_s").to_number<double>();
  }
  EXPECT_NEAR(at, 660, 0.05);
  EXPECT_NEAR(total_usd, 7.70, 0.01);
  EXPECT_NEAR(plan.at("total_estimated_cost_usd").to_number<double>(), 7.70, 0.01);
  EXPECT_NEAR(run.report.at("estimated_cost_usd").to_number<double>(), 7.70, 0.01);
  // Near even sizes, and the cut lies in a pause: ffmpeg hears the 0.2 s around it at least
  // 20 dB below the speech.
  const auto& first = segments[0].as_object();
  const std::string kind(first.at("end_cut").as_string());
  EXPECT_TRUE(kind == "pause" || kind == "keyframe_in_pause") << kind;
  const double cut = first.at("end_s").to_number<double>();
  EXPECT_NEAR(cut, 330, 60);
  const double speech = run.report.at("audio").at("rms_dbfs").to_number<double>();
  EXPECT_LT(mean_volume_around(video, cut), speech - 20) << "cut at " << cut;
  EXPECT_LT(run.max_rss_kib, kMaxRssKiB);
}

TEST(CheckLargeMedia, ExactlyTenMinutesIsAccepted) {
  const auto video = large_media("at_10min", "at_10min.mp4");
  // Its own audio track as the audio: equal lengths, 600 s of output.
  const MeasuredRun run = check_measured({video.string(), video.string()});
  EXPECT_EQ(run.exit_code, 0) << boost::json::serialize(run.report);
  EXPECT_EQ(run.report.at("sync_mode").as_string(), "cut_off");
  EXPECT_NEAR(run.report.at("output_duration_s").to_number<double>(), 600, 0.1);
  EXPECT_NEAR(run.report.at("estimated_cost_usd").to_number<double>(), 7.0, 0.01);
  // 32 sample times (max_samples); a few may be passed over where reaching them would mean
  // decoding far past a keyframe, never below min_samples.
  const auto& face = run.report.at("face");
  EXPECT_EQ(face.at("samples").to_number<int>() + face.at("samples_skipped").to_number<int>(), 32);
  EXPECT_GE(face.at("samples").to_number<int>(), 8);
  EXPECT_EQ(face.at("max_faces").to_number<int>(), 1);
  EXPECT_LT(run.max_rss_kib, kMaxRssKiB);
}

TEST(CheckLargeMedia, TwoHourAudioIsMeasuredInConstantMemory) {
  const auto audio = large_media("long_audio", "long_audio_2h.wav");
  // The clip bounces for 2 hours: 14 segments of at most 9 minutes, one face check of the clip.
  const MeasuredRun planned = check_measured({media("talk_h264_aac.mp4").string(), audio.string()});
  EXPECT_EQ(planned.exit_code, 0) << boost::json::serialize(planned.report);
  EXPECT_EQ(planned.report.at("long_form").at("segments").as_array().size(), 14u);
  EXPECT_LT(planned.max_rss_kib, kMaxRssKiB);
  TempDir dir;
  const MeasuredRun too_long =
      check_measured({media("talk_h264_aac.mp4").string(), audio.string(), "--config",
                      with_config(dir, "[longform]\nmax_total_s = 3600\n")[1]});
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_EQ(too_long.report.at("reason_code").as_string(), "output_too_long");
  // With cut_off only 4 s are used, but the loudness is still measured over all 2 hours.
  const MeasuredRun cut = check_measured(
      {media("talk_h264_aac.mp4").string(), audio.string(), "--sync-mode", "cut_off"});
  EXPECT_EQ(cut.exit_code, 0) << boost::json::serialize(cut.report);
  EXPECT_NEAR(cut.report.at("audio").at("duration_s").to_number<double>(), 7200, 0.1);
  EXPECT_GT(cut.report.at("audio").at("peak_dbfs").to_number<double>(), -10);
  EXPECT_LT(cut.max_rss_kib, kMaxRssKiB);
}

TEST(CheckLargeMedia, UhdSixtyFpsFaceCheckStaysSmall) {
  const auto video = large_media("uhd60", "uhd60_face.mp4");
  const MeasuredRun run = check_measured({video.string(), video.string()});
  EXPECT_EQ(run.exit_code, 0) << boost::json::serialize(run.report);
  EXPECT_GE(run.report.at("face").at("visible_ratio").to_number<double>(), 0.9);
  EXPECT_EQ(run.report.at("video").at("needs_transcode").as_bool(), true);  // 2160 > 1080
  EXPECT_LT(run.max_rss_kib, kMaxRssKiB);
}

}  // namespace
}  // namespace lipsyncd::test
