#include "sync_renderer.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "command_runner.hpp"
#include "lipsyncd/core/error.hpp"

namespace lipsyncd::emulator {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

std::string seconds(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6f", value);
  return text;
}

double parse_rate(std::string_view rate) {
  const auto slash = rate.find('/');
  try {
    if (slash == std::string_view::npos) return std::stod(std::string(rate));
    const double num = std::stod(std::string(rate.substr(0, slash)));
    const double den = std::stod(std::string(rate.substr(slash + 1)));
    return den > 0 ? num / den : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

double number_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return 0;
  try {
    return std::stod(std::string(value->as_string()));
  } catch (const std::exception&) {
    return 0;
  }
}

[[noreturn]] void fail_render(const std::string& what, const CommandResult& result) {
  // ffmpeg's last lines say why; the whole log would drown the error message.
  const std::string tail = result.output.size() > 1500
                               ? result.output.substr(result.output.size() - 1500)
                               : result.output;
  throw Error("render_failed",
              what + " failed (exit " + std::to_string(result.exit_code) + "): " + tail,
              "check that the inputs are real media files", Permanence::permanent);
}

void run_ffmpeg(std::vector<std::string> args, const std::string& what) {
  std::vector<std::string> argv = {"ffmpeg",    "-nostdin", "-hide_banner",
                                   "-loglevel", "error",    "-y"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = run_command(argv, /*merge_stderr=*/true);
  if (result.exit_code != 0) fail_render(what, result);
}

// Even dimensions and square pixels: H.264 in yuv420p refuses odd sizes (e.g. 721x405).
std::string video_prelude(double fps) {
  return "scale=trunc(iw/2)*2:trunc(ih/2)*2,setsar=1,fps=" + seconds(fps);
}

// The shorter clip played forward then backward, written to a file so it can be looped with
// -stream_loop instead of holding every frame of the whole output in memory.
fs::path make_bounce_video(const fs::path& video, double fps, const fs::path& scratch_dir) {
  const auto clip = scratch_dir / "bounce_video.mp4";
  run_ffmpeg(
      {"-i", video.string(), "-filter_complex",
       "[0:v]" + video_prelude(fps) + ",split[f][r];[r]reverse[b];[f][b]concat=n=2:v=1:a=0[v]",
       "-map", "[v]", "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt",
       "yuv420p", clip.string()},
      "bouncing the video");
  return clip;
}

fs::path make_bounce_audio(const fs::path& audio, const fs::path& scratch_dir) {
  const auto clip = scratch_dir / "bounce_audio.wav";
  run_ffmpeg({"-i", audio.string(), "-filter_complex",
              "[0:a]asplit[f][r];[r]areverse[b];[f][b]concat=n=2:v=0:a=1[a]", "-map", "[a]", "-vn",
              clip.string()},
             "bouncing the audio");
  return clip;
}

}  // namespace

MediaInfo probe_media(const fs::path& file) {
  const auto result = run_command({"ffprobe", "-v", "error", "-show_entries",
                                   "format=duration:stream=codec_type,avg_frame_rate,r_frame_rate",
                                   "-of", "json", file.string()});
  json::error_code ec;
  const auto parsed = json::parse(result.output, ec);
  MediaInfo info;
  if (result.exit_code == 0 && !ec && parsed.is_object()) {
    const auto& root = parsed.as_object();
    if (const auto* format = root.if_contains("format"); format && format->is_object()) {
      info.duration_s = number_field(format->as_object(), "duration");
    }
    if (const auto* streams = root.if_contains("streams"); streams && streams->is_array()) {
      for (const auto& stream : streams->as_array()) {
        if (!stream.is_object()) continue;
        const auto& s = stream.as_object();
        const auto* type = s.if_contains("codec_type");
        if (type == nullptr || !type->is_string()) continue;
        if (type->as_string() == "audio") info.has_audio = true;
        if (type->as_string() == "video" && !info.has_video) {
          info.has_video = true;
          double rate = 0;
          if (const auto* avg = s.if_contains("avg_frame_rate"); avg && avg->is_string()) {
            rate = parse_rate(avg->as_string());
          }
          if ((rate <= 0 || rate > 120) && s.contains("r_frame_rate") &&
              s.at("r_frame_rate").is_string()) {
            rate = parse_rate(s.at("r_frame_rate").as_string());
          }
          if (rate > 0 && rate <= 120) info.fps = rate;
        }
      }
    }
  }
  if (info.duration_s <= 0 || (!info.has_video && !info.has_audio)) {
    throw Error("input_not_decodable",
                "the file " + file.filename().string() +
                    " is not decodable media (ffprobe found no duration or streams)",
                "upload a real video or audio file");
  }
  return info;
}

double planned_output_duration(SyncMode mode, double video_s, double audio_s) {
  switch (mode) {
    case SyncMode::cut_off:
      return std::min(video_s, audio_s);
    case SyncMode::remap:
      return audio_s;
    case SyncMode::loop:
    case SyncMode::bounce:
    case SyncMode::silence:
      break;
  }
  return std::max(video_s, audio_s);
}

double render_lipsync_output(const fs::path& video, const fs::path& audio, SyncMode mode,
                             const fs::path& output, const fs::path& scratch_dir) {
  const auto video_info = probe_media(video);
  const auto audio_info = probe_media(audio);
  if (!video_info.has_video) {
    throw Error("input_not_decodable", "the video_url file has no video stream",
                "send a video file as video_url");
  }
  if (!audio_info.has_audio) {
    throw Error("input_not_decodable", "the audio_url file has no audio stream",
                "send an audio file (or a video with sound) as audio_url");
  }
  const double v = video_info.duration_s;
  const double a = audio_info.duration_s;
  const double fps = video_info.fps;
  const double target = planned_output_duration(mode, v, a);
  const bool video_shorter = v < a;

  std::vector<std::string> inputs;
  std::string video_chain = "[0:v]" + video_prelude(fps);
  std::string audio_chain = "[1:a]anull";
  fs::path video_input = video;
  fs::path audio_input = audio;
  bool loop_video = false;
  bool loop_audio = false;

  switch (mode) {
    case SyncMode::cut_off:
      break;
    case SyncMode::loop:
      loop_video = video_shorter;
      loop_audio = !video_shorter;
      break;
    case SyncMode::bounce:
      if (video_shorter) {
        video_input = make_bounce_video(video, fps, scratch_dir);
        video_chain = "[0:v]setsar=1";
        loop_video = true;
      } else {
        audio_input = make_bounce_audio(audio, scratch_dir);
        loop_audio = true;
      }
      break;
    case SyncMode::silence:
      break;  // the padding below is the whole mode: last frame held, or silence added
    case SyncMode::remap:
      video_chain = "[0:v]setpts=(PTS-STARTPTS)*" + seconds(a / v) + "," + video_prelude(fps);
      break;
  }

  if (loop_video) inputs.insert(inputs.end(), {"-stream_loop", "-1"});
  inputs.insert(inputs.end(), {"-i", video_input.string()});
  if (loop_audio) inputs.insert(inputs.end(), {"-stream_loop", "-1"});
  inputs.insert(inputs.end(), {"-i", audio_input.string()});

  // Durations are the containers' (what ffprobe and fal report); a stream may end a little
  // before its container does, so every mode holds the last frame and pads silence up to the
  // target before cutting there. For `silence` that padding is the mode itself.
  const std::string filter = video_chain +
                             ",tpad=stop_mode=clone:stop_duration=" + seconds(target + 1) +
                             ",trim=duration=" + seconds(target) + ",setpts=PTS-STARTPTS[v];" +
                             audio_chain + ",apad=whole_dur=" + seconds(target) +
                             ",atrim=duration=" + seconds(target) + ",asetpts=PTS-STARTPTS[a]";
  std::vector<std::string> args = inputs;
  args.insert(args.end(), {"-filter_complex",
                           filter,
                           "-map",
                           "[v]",
                           "-map",
                           "[a]",
                           "-c:v",
                           "libx264",
                           "-preset",
                           "ultrafast",
                           "-pix_fmt",
                           "yuv420p",
                           "-c:a",
                           "aac",
                           "-b:a",
                           "128k",
                           "-t",
                           seconds(target),
                           "-movflags",
                           "+faststart",
                           "-f",
                           "mp4",
                           output.string()});
  run_ffmpeg(args, "rendering the output");
  return target;
}

}  // namespace lipsyncd::emulator
