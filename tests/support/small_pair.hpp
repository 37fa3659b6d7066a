#pragma once
// A small, fully compliant pair for load tests and benchmarks: 0.64 s of the real Mona Lisa
// talking clip at 320x180 (H.264 yuv420p, 25 fps CFR, no audio) and speech_1s.wav (0.633 s of
// real speech, WAV s16le). The lengths agree, so lipsyncd's preparation passes both through
// without trimming or transcoding and the work per job is the daemon's own. Made with the
// ffmpeg command. Header-only.

#include <gtest/gtest.h>

#include <filesystem>

#include "child_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {

struct MediaPair {
  std::filesystem::path video, audio;
};

inline MediaPair make_small_pair(const std::filesystem::path& folder) {
  std::filesystem::create_directories(folder);
  MediaPair pair{folder / "small.mp4", folder / "small.wav"};
  const int code = run_to_completion({"/usr/bin/ffmpeg",
                                      "-nostdin",
                                      "-v",
                                      "error",
                                      "-y",
                                      "-i",
                                      media("real_talk_monalisa_720p.mp4").string(),
                                      "-t",
                                      "0.64",
                                      "-an",
                                      "-vf",
                                      "scale=320:180,fps=25",
                                      "-c:v",
                                      "libx264",
                                      "-preset",
                                      "veryfast",
                                      "-pix_fmt",
                                      "yuv420p",
                                      "-movflags",
                                      "+faststart",
                                      pair.video.string()},
                                     folder / "ffmpeg.log", std::chrono::seconds(60));
  EXPECT_EQ(code, 0) << "ffmpeg could not make the small clip; see " << (folder / "ffmpeg.log");
  std::filesystem::copy_file(media("speech_1s.wav"), pair.audio,
                             std::filesystem::copy_options::overwrite_existing);
  return pair;
}

}  // namespace lipsyncd::test
