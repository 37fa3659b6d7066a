#pragma once
// A long talk for the long-form tests, made with ffmpeg in seconds and never committed: the
// real talking clip at 320x320, 25 fps, encoded once as one 6-second GOP and joined to the
// wanted length without re-encoding (as ../shared/media/make-large.sh does), and the real
// speech recording looped into a 16 kHz WAV of the same length, whose own pauses between
// sentences are where the daemon may cut. Made once per length into the large-media folder
// (LIPSYNCD_LARGE_MEDIA, default build/large-media, shared with the other large cases).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "child_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {

struct LongTalk {
  std::filesystem::path video;
  std::filesystem::path audio;
};

inline std::filesystem::path large_media_folder() {
  return env_path("LIPSYNCD_LARGE_MEDIA", bin_dir().parent_path() / "large-media");
}

namespace long_talk_detail {

// Runs ffmpeg into a temporary name and renames it into place, so a cut-off run never leaves a
// half-made file that a later test would take as made.
inline void make_with_ffmpeg(std::vector<std::string> args, const std::filesystem::path& target) {
  if (std::filesystem::exists(target)) return;
  const auto temporary = target.parent_path() /
                         ("." + target.filename().string() + ".part" + target.extension().string());
  std::vector<std::string> argv = {"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(temporary.string());
  const auto log = target.parent_path() / (target.filename().string() + ".log");
  const int code = run_to_completion(argv, log, std::chrono::minutes(5));
  ASSERT_EQ(code, 0) << "ffmpeg could not make " << target << ": " << read_text(log);
  std::filesystem::rename(temporary, target);
}

}  // namespace long_talk_detail

// `seconds` must be a multiple of 6 (whole GOPs of the joined clip).
inline LongTalk long_talk(int seconds) {
  using long_talk_detail::make_with_ffmpeg;
  const auto dir = large_media_folder();
  std::filesystem::create_directories(dir);
  const auto gop = dir / "long_talk_gop_320.mp4";
  make_with_ffmpeg({"-i", media("real_talk_retalk1.mp4").string(), "-an", "-vf",
                    "fps=25,scale=320:320,format=yuv420p", "-frames:v", "150", "-c:v", "libx264",
                    "-preset", "ultrafast", "-crf", "30", "-g", "150", "-keyint_min", "150"},
                   gop);
  const auto list = dir / ("long_talk_" + std::to_string(seconds) + ".txt");
  {
    std::ofstream out(list);
    for (int i = 0; i < seconds / 6; ++i) out << "file '" << gop.filename().string() << "'\n";
  }
  const auto name = "long_talk_" + std::to_string(seconds);
  LongTalk talk{dir / (name + ".mp4"), dir / (name + ".wav")};
  make_with_ffmpeg(
      {"-f", "concat", "-safe", "0", "-i", list.string(), "-c", "copy", "-movflags", "+faststart"},
      talk.video);
  make_with_ffmpeg({"-stream_loop", "-1", "-i", media("real_speech_16k.wav").string(), "-t",
                    std::to_string(seconds), "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le"},
                   talk.audio);
  return talk;
}

}  // namespace lipsyncd::test
