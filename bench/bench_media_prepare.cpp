// Media preparation figures, each beside an anchor measured in the same run:
//   normalize (transcode) time vs the ffmpeg command with identical settings  (goal <= 1.1x)
//   remux of a compliant 60 s clip, as a multiple of realtime                  (goal >= 50x)
//   face check of a 60 s 720p30 clip (8 samples) vs a full ffmpeg decode       (goal <= 0.5x)
//   face check at the DEFAULT settings of 60 s clips, landscape 1920x1080 and portrait
//   1080x1920 (made here from real footage), each vs its own full decode         (goal <= 0.5x),
//   with each detector on the same clips: Haar (the default) and the SSD ([face] detector =
//   "ssd", its model from LIPSYNCD_TEST_MODELS), and the SSD's time vs Haar's
//   probe() with its truncation pass over every packet, vs the face check    (well under 1x)
//   peak RSS of check + normalize for the 4K60 and the 60-minute cases
// `bench_media_prepare --only faces` runs only the face-check and probe figures.
// Inputs: ../shared/media (LIPSYNCD_TEST_MEDIA), ../shared/models (LIPSYNCD_TEST_MODELS) and
// make-large.sh's cases (LIPSYNCD_LARGE_MEDIA).

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "bench_paths.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/normalizer.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace lipsyncd;

using bench::large_dir;
using bench::media_dir;
using bench::models_dir;

struct ChildResult {
  int exit_code = -1;
  double seconds = 0;
  long max_rss_kib = 0;
};

ChildResult run(std::vector<std::string> argv, bool quiet = true) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  ChildResult result;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return result;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.max_rss_kib = usage.ru_maxrss;
  return result;
}

double time_of(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void bench_line(const char* name, double value, const char* unit, const std::string& anchor,
                double anchor_value, double ratio, const char* goal) {
  std::printf("BENCH\t%s\t%.3f\t%s\t%s\t%.3f\t%.3f\t%s\n", name, value, unit, anchor.c_str(),
              anchor_value, ratio, goal);
  std::fflush(stdout);
}

void require(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "bench_media_prepare: %s\n", what.c_str());
    std::exit(1);
  }
}

// Child mode: the whole preparation of one large file, so the parent can read its peak RSS.
int prepare_in_child(const fs::path& video, const fs::path& out) {
  const Config config = default_config({});
  const media::MediaInfo info = media::probe(video);
  const media::TimeSpan span{0, info.duration_s};
  const media::FaceReport faces = media::check_faces(info, span, config.face);
  std::fprintf(stderr, "  %s: face visible %.0f%%, %d samples\n", video.filename().c_str(),
               faces.visible_ratio * 100, faces.samples);
  if (info.audio) {
    media::measure_loudness(info);
    media::normalize_audio(info, span, out / "audio.wav", config.media);
  }
  const auto normalized = media::normalize_video(info, span, out / "video.mp4", config.media);
  std::fprintf(stderr, "  %s: %s, %.1f s\n", video.filename().c_str(),
               std::string(to_string(normalized.method)).c_str(), normalized.duration_s);
  return 0;
}

// A 60 s clip of `source` looped and scaled to width x height, H.264 as a camera would write.
// Kept beside make-large.sh's cases, so a second run does not encode it again.
fs::path make_clip(const fs::path& dir, const fs::path& source, int width, int height) {
  fs::create_directories(dir);
  const fs::path clip =
      dir / ("talk60_" + std::to_string(width) + "x" + std::to_string(height) + ".mp4");
  if (fs::exists(clip)) return clip;
  const fs::path partial = clip.string() + ".part";
  require(run({"ffmpeg",
               "-nostdin",
               "-v",
               "error",
               "-y",
               "-stream_loop",
               "-1",
               "-i",
               source.string(),
               "-t",
               "60",
               "-vf",
               "scale=" + std::to_string(width) + ":" + std::to_string(height) + ",setsar=1",
               "-c:v",
               "libx264",
               "-preset",
               "veryfast",
               "-an",
               "-f",
               "mp4",
               partial.string()})
                  .exit_code == 0,
          "cannot make " + clip.string());
  fs::rename(partial, clip);  // a run cut short never leaves half a clip to be reused
  return clip;
}

double full_decode_seconds(const fs::path& clip) {
  const ChildResult decode =
      run({"ffmpeg", "-nostdin", "-v", "error", "-i", clip.string(), "-an", "-f", "null", "-"});
  require(decode.exit_code == 0, "the ffmpeg decode of " + clip.string() + " failed");
  return decode.seconds;
}

// The default settings with the SSD chosen as a user chooses it: [face] detector and ssd_model.
FaceConfig ssd_face_config() {
  const fs::path model = models_dir() / "opencv_face_detector_uint8.pb";
  require(fs::exists(model), "SSD model missing: " + model.string() +
                                 " (set LIPSYNCD_TEST_MODELS to the shared models folder)");
  return parse_config("[face]\ndetector = \"ssd\"\nssd_model = \"" + model.string() + "\"\n",
                      models_dir(), {})
      .face;
}

// Each detector loads its model once per thread (the daemon's CPU pool keeps it for the next
// job): one untimed look first, so the figures are a job's, not a model load's.
void load_detector(const FaceConfig& config) {
  FaceConfig one = config;
  one.min_samples = one.max_samples = 1;
  const media::MediaInfo info = media::probe(media_dir() / "talk_h264_aac.mp4");
  media::check_faces(info, {0, media::video_seconds(info)}, one);
}

double timed_face_check(const std::string& name, const media::MediaInfo& info,
                        const FaceConfig& config) {
  media::FaceReport report;
  const double seconds = time_of([&] {
    report = media::check_faces(info, {0, media::video_seconds(info)}, config);
  });
  require(report.visible_ratio > 0.9 && report.max_faces == 1,
          name + ": the face check did not see one face");
  std::fprintf(stderr, "  %s: %s, %d samples, %.0f%% with a face\n", name.c_str(),
               report.detector.c_str(), report.samples, report.visible_ratio * 100);
  return seconds;
}

// The face check at the default settings vs a full decode, for one orientation, with Haar and
// with the SSD on the same clip; and probe() (header + the truncation pass over every packet)
// beside it.
void bench_default_face_check(const char* name, const fs::path& clip, const FaceConfig& ssd) {
  const double decode = full_decode_seconds(clip);
  media::MediaInfo info;
  const double probe_s = time_of([&] { info = media::probe(clip); });
  const double haar = timed_face_check(name, info, FaceConfig{});
  const std::string ssd_name = std::string(name) + "_ssd";
  const double dnn = timed_face_check(ssd_name, info, ssd);
  bench_line(name, haar, "s", "ffmpeg_full_decode", decode, haar / decode, "<=0.5x");
  bench_line(ssd_name.c_str(), dnn, "s", "ffmpeg_full_decode", decode, dnn / decode, "<=0.5x");
  const std::string versus = ssd_name + "_vs_haar";
  bench_line(versus.c_str(), dnn, "s", "haar_face_check", haar, dnn / haar, "(compare)");
  const std::string probe_name = std::string(name) + "_probe_with_packet_pass";
  bench_line(probe_name.c_str(), probe_s, "s", "face_check", haar, probe_s / haar, "well under 1x");
}

// Portrait vs landscape at the same pixel count, from real footage: the portrait phone clip
// and the Mona Lisa clip, each 60 s.
void bench_faces() {
  const fs::path portrait_source = media_dir() / "real_talk_lp_s20_portrait.mp4";
  const fs::path landscape_source = media_dir() / "real_talk_monalisa_720p.mp4";
  require(fs::exists(portrait_source), "test media missing: " + portrait_source.string());
  const FaceConfig ssd = ssd_face_config();
  load_detector(FaceConfig{});
  load_detector(ssd);
  bench_default_face_check("media.face_check_60s_1920x1080_landscape_default",
                           make_clip(large_dir(), landscape_source, 1920, 1080), ssd);
  bench_default_face_check("media.face_check_60s_1080x1920_portrait_default",
                           make_clip(large_dir(), portrait_source, 1080, 1920), ssd);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string(argv[1]) == "--prepare") return prepare_in_child(argv[2], argv[3]);
    const bool faces_only =
        argc == 3 && std::string(argv[1]) == "--only" && std::string(argv[2]) == "faces";
    if (faces_only) {
      bench_faces();
      return 0;
    }

    char pattern[] = "/tmp/lipsyncd-bench-XXXXXX";
    const fs::path work = ::mkdtemp(pattern);
    const fs::path monalisa = media_dir() / "real_talk_monalisa_720p.mp4";
    require(fs::exists(monalisa), "test media missing: " + monalisa.string());

    // A 60 s 720p30 talking clip (x264 defaults: a keyframe every ~8 s) and the same in MPEG-4
    // Part 2, which needs a transcode.
    const fs::path h264 = work / "talk60_h264.mp4";
    const fs::path mpeg4 = work / "talk60_mpeg4.avi";
    require(run({"ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i",
                 monalisa.string(), "-t", "60", "-c:v", "libx264", "-preset", "veryfast", "-c:a",
                 "aac", h264.string()})
                    .exit_code == 0,
            "cannot make the 60 s clip");
    require(run({"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", h264.string(), "-c:v", "mpeg4",
                 "-q:v", "4", "-an", mpeg4.string()})
                    .exit_code == 0,
            "cannot make the MPEG-4 clip");

    const MediaConfig media_config;
    // 1. Transcode: ours vs the ffmpeg command with the same filters and encoder settings.
    const media::MediaInfo mpeg4_info = media::probe(mpeg4);
    const media::VideoTarget target = media::video_target(*mpeg4_info.video, media_config);
    const double ours = time_of([&] {
      media::normalize_video(mpeg4_info, {0, mpeg4_info.duration_s}, work / "ours.mp4",
                             media_config);
    });
    const std::string filters = "scale=" + std::to_string(target.width) + ":" +
                                std::to_string(target.height) +
                                ":flags=bicubic,setsar=1,fps=" + std::to_string(target.fps_num) +
                                "/" + std::to_string(target.fps_den) + ",format=yuv420p";
    const ChildResult ffmpeg =
        run({"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", mpeg4.string(), "-an", "-vf", filters,
             "-c:v", "libx264", "-preset", media_config.x264_preset, "-crf",
             std::to_string(media_config.x264_crf), "-movflags", "+faststart",
             (work / "ffmpeg.mp4").string()});
    require(ffmpeg.exit_code == 0, "the ffmpeg anchor failed");
    bench_line("media.normalize_transcode_60s_720p", ours, "s", "ffmpeg_command", ffmpeg.seconds,
               ours / ffmpeg.seconds, "<=1.1x");

    // 2. Remux of a compliant clip.
    const media::MediaInfo h264_info = media::probe(h264);
    media::NormalizedFile remuxed;
    const double remux = time_of([&] {
      remuxed = media::normalize_video(h264_info, {0, h264_info.duration_s}, work / "remux.mp4",
                                       media_config);
    });
    require(remuxed.method == media::NormalizeMethod::remux, "the compliant clip was not remuxed");
    const ChildResult copy =
        run({"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", h264.string(), "-an", "-c", "copy",
             "-movflags", "+faststart", (work / "copy.mp4").string()});
    // The ratio is our speed over the ffmpeg command's; the goal is on the value itself.
    bench_line("media.remux_60s_realtime_factor", 60.0 / remux, "x", "ffmpeg_copy_x",
               60.0 / copy.seconds, copy.seconds / remux, ">=50x realtime");

    // 3. Face check by seeking vs decoding everything.
    const ChildResult decode =
        run({"ffmpeg", "-nostdin", "-v", "error", "-i", h264.string(), "-an", "-f", "null", "-"});
    FaceConfig eight;
    eight.min_samples = 8;
    eight.max_samples = 8;
    media::FaceReport report;
    const double face8 = time_of([&] { report = media::check_faces(h264_info, {0, 60}, eight); });
    require(report.samples == 8 && report.visible_ratio > 0.9, "the face check missed the face");
    bench_line("media.face_check_60s_720p_8_samples", face8, "s", "ffmpeg_full_decode",
               decode.seconds, face8 / decode.seconds, "<=0.5x");
    const FaceConfig defaults;
    const double face_default = time_of([&] {
      report = media::check_faces(h264_info, {0, 60}, defaults);
    });
    bench_line("media.face_check_60s_720p_default", face_default, "s", "ffmpeg_full_decode",
               decode.seconds, face_default / decode.seconds, "<=0.5x");
    bench_faces();

    // 4. Peak memory of a whole preparation of the large cases, each in its own process.
    const fs::path large = large_dir();
    fs::create_directories(large);
    run({(media_dir() / "make-large.sh").string(), large.string(), "uhd60", "hour_talk"});
    for (const auto& [name, file] : std::vector<std::pair<std::string, std::string>>{
             {"media.prepare_peak_rss_4k60_10s", "uhd60_face.mp4"},
             {"media.prepare_peak_rss_60min_480p", "hour_talk_480p.mp4"}}) {
      const fs::path out = work / name;
      fs::create_directories(out);
      const ChildResult child = run(
          {bench::self_path().string(), "--prepare", (large / file).string(), out.string()}, false);
      require(child.exit_code == 0, "preparing " + file + " failed");
      const double input_mib = static_cast<double>(fs::file_size(large / file)) / (1 << 20);
      const double rss_mib = static_cast<double>(child.max_rss_kib) / 1024;
      bench_line(name.c_str(), rss_mib, "MiB", "input_file_MiB", input_mib, rss_mib / input_mib,
                 "bounded");
      std::fprintf(stderr, "  (%s took %.1f s)\n", file.c_str(), child.seconds);
    }
    fs::remove_all(work);
    return 0;
  } catch (const Error& error) {
    std::fprintf(stderr, "bench_media_prepare: %s [%s]\n", error.what(),
                 error.reason_code().c_str());
    return 1;
  }
}
