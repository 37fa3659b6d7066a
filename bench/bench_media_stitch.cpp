// Stitching a long-form job's output, against a plain remux of a file of the same size:
//   stitch_segments() of a 60-minute output in 7 segments (6 x 516 s + 504 s, 320x320 25 fps
//   H.264 like fal's outputs, each with its own AAC track that the stitcher ignores), its
//   checks included, vs `ffmpeg -i joined.mp4 -c copy out.mp4` of the stitched file (goal
//   <= 2x); once with the 60-minute 16 kHz WAV (the stitch encodes it to AAC) and once with that
//   track encoded beforehand by encode_audio_track() (copied); each split into joining+writing
//   and the checks (which decode every video packet).
// Inputs are made once with ffmpeg into LIPSYNCD_LARGE_MEDIA/stitch-60min (as make-large.sh
// does: one 6 s encoded clip joined N times by stream copy, so it takes seconds).

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_paths.hpp"
#include "bench_report.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/long_form_plan.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/stitch.hpp"
#include "lipsyncd/media/sync_plan.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace lipsyncd;

using bench::large_dir;
using bench::media_dir;

void require(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "bench_media_stitch: %s\n", what.c_str());
    std::exit(1);
  }
}

// Runs a command quietly and returns its wall time; exits the bench when it fails.
double run(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  require(spawned == 0, "cannot start " + argv[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  require(WIFEXITED(status) && WEXITSTATUS(status) == 0, "failed: " + argv[0] + " " + argv.back());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void ffmpeg(std::vector<std::string> arguments) {
  std::vector<std::string> argv = {"ffmpeg", "-nostdin", "-v", "error", "-y"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  run(argv);
}

constexpr int kClipSeconds = 6;
const std::vector<int> kSegmentSeconds = {516, 516, 516, 516, 516, 516, 504};  // 3600 s

// The segments and the audio track, made once (kept between runs like make-large.sh's cases).
media::StitchRequest make_inputs(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path clip = dir / "clip.mp4";
  if (!fs::exists(clip)) {
    ffmpeg({"-i",
            (media_dir() / "real_talk_retalk1.mp4").string(),
            "-an",
            "-vf",
            "fps=25,scale=320:320,format=yuv420p",
            "-frames:v",
            "150",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "30",
            "-g",
            "150",
            "-keyint_min",
            "150",
            "-threads",
            "2",
            clip.string()});
  }
  media::StitchRequest request;
  for (std::size_t k = 0; k < kSegmentSeconds.size(); ++k) {
    const int seconds = kSegmentSeconds[k];
    const fs::path segment = dir / ("segment" + std::to_string(k + 1) + ".mp4");
    if (!fs::exists(segment)) {
      const fs::path list = dir / ("list" + std::to_string(seconds) + ".txt");
      std::ofstream out(list);
      for (int i = 0; i < seconds / kClipSeconds; ++i) out << "file 'clip.mp4'\n";
      out.close();
      ffmpeg({"-f",
              "concat",
              "-safe",
              "0",
              "-i",
              list.string(),
              "-f",
              "lavfi",
              "-i",
              "sine=frequency=300:sample_rate=44100",
              "-map",
              "0:v",
              "-map",
              "1:a",
              "-c:v",
              "copy",
              "-c:a",
              "aac",
              "-b:a",
              "32k",
              "-t",
              std::to_string(seconds),
              "-movflags",
              "+faststart",
              segment.string()});
    }
    request.segments.push_back(segment);
    request.planned_durations_s.push_back(seconds);
    request.expected_duration_s += seconds;
  }
  request.audio = dir / "audio.wav";
  if (!fs::exists(request.audio)) {
    ffmpeg({"-stream_loop", "-1", "-i", (media_dir() / "real_speech_16k.wav").string(), "-t",
            std::to_string(request.expected_duration_s), "-ac", "1", "-ar", "16000", "-c:a",
            "pcm_s16le", request.audio.string()});
  }
  return request;
}

media::StitchResult stitch(const media::StitchRequest& request, const fs::path& out,
                           const MediaConfig& config) {
  media::StitchResult result;
  try {
    result = media::stitch_segments(request, out, config);
  } catch (const Error& error) {
    require(false, std::string("stitch failed: ") + error.what());
  }
  require(!result.reencoded, "the segments were re-encoded: " + result.reencode_reason);
  double worst = 0;
  for (const auto& seam : result.seams) worst = std::max(worst, std::fabs(seam.offset_s));
  std::fprintf(stderr, "  %s: %.3f s of video, %zu seams, worst offset %.4f s, %.1f MB\n",
               request.audio.filename().c_str(), result.duration_s, result.seams.size(), worst,
               static_cast<double>(fs::file_size(out)) / 1e6);
  return result;
}

}  // namespace

// The long-form planning of a 60-minute pair (the stitched video and its WAV): one decode of
// the audio into its envelope, the pauses, the video's keyframes from its packets, the plan.
double time_planning(const fs::path& video_file, const fs::path& audio_file) {
  const Config config = default_config({});
  const auto video = media::probe(video_file);
  const auto audio = media::probe(audio_file);
  const auto sync = media::plan_sync(video, audio, config.policy);
  const auto start = std::chrono::steady_clock::now();
  const auto plan = media::plan_long_form_pair(video, audio, sync, config, false);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "bench_media_stitch: planned %zu segments\n", plan.segments.size());
  return seconds;
}

int main() {
  const fs::path dir = large_dir() / "stitch-60min";
  std::fprintf(stderr, "bench_media_stitch: inputs in %s\n", dir.c_str());
  media::StitchRequest request = make_inputs(dir);
  const fs::path joined = dir / "joined.mp4";
  const fs::path remuxed = dir / "remuxed.mp4";
  const fs::path track = dir / "audio.m4a";
  const MediaConfig config = default_config({}).media;

  // The audio encoded by the stitch itself, then beforehand (as while the segments are at fal).
  const media::StitchResult from_wav = stitch(request, joined, config);
  const double plan_s = time_planning(joined, request.audio);
  const auto encode_start = std::chrono::steady_clock::now();
  media::encode_audio_track(media::probe(request.audio), request.expected_duration_s, track);
  const double encode_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - encode_start).count();
  request.audio = track;
  const media::StitchResult from_aac = stitch(request, joined, config);

  std::vector<double> remux_times;
  for (int i = 0; i < 3; ++i) {
    remux_times.push_back(run({"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", joined.string(),
                               "-c", "copy", remuxed.string()}));
  }
  const double remux_s = bench::median(remux_times);
  const std::string anchor = "ffmpeg_-c_copy_same_output";
  const auto line = [&](const std::string& name, double seconds, const std::string& goal) {
    bench::bench_line("media.stitch_60min_7seg_" + name, seconds, "s", anchor, remux_s,
                      seconds / remux_s, goal);
  };
  line("wav_total", from_wav.write_seconds + from_wav.check_seconds, "<=2x");
  line("wav_join_only", from_wav.write_seconds, "<=2x (AAC encode inside)");
  line("aac_total", from_aac.write_seconds + from_aac.check_seconds, "<=2x");
  line("aac_join_only", from_aac.write_seconds, "<=2x");
  line("checks_only", from_aac.check_seconds, "(decodes every frame)");
  line("audio_track_encode", encode_s, "(beforehand, while segments are at fal)");
  bench::bench_line("media.plan_60min_long_form", plan_s, "s", anchor, remux_s, plan_s / remux_s,
                    "(envelope, pauses, keyframes, plan; once per job)");
  fs::remove(joined);
  fs::remove(remuxed);
  fs::remove(track);
  return 0;
}
