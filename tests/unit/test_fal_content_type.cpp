// Content types come from the bytes, not the file name.

#include <gtest/gtest.h>

#include <fstream>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/fal/content_type.hpp"
#include "test_media.hpp"

namespace lipsyncd::fal {
namespace {

using namespace std::string_literals;

TEST(FalContentType, RecognisesMagicBytes) {
  EXPECT_EQ(content_type_from_bytes("\0\0\0\x20"
                                    "ftypisom\0\0\0\0"s),
            "video/mp4");
  EXPECT_EQ(content_type_from_bytes("\0\0\0\x14"
                                    "ftypqt  \0\0\0\0"s),
            "video/quicktime");
  EXPECT_EQ(content_type_from_bytes("\0\0\0\x20"
                                    "ftypM4A \0\0\0\0"s),
            "audio/mp4");
  EXPECT_EQ(content_type_from_bytes("RIFF\x24\0\0\0WAVEfmt "s), "audio/wav");
  EXPECT_EQ(content_type_from_bytes("RIFF\x24\0\0\0AVI LIST"s), "video/x-msvideo");
  EXPECT_EQ(content_type_from_bytes("ID3\x04\0\0"s), "audio/mpeg");
  EXPECT_EQ(content_type_from_bytes("\xFF\xFB\x90\x64"s), "audio/mpeg");
  EXPECT_EQ(content_type_from_bytes("\xFF\xF1\x50\x80"s), "audio/aac");
  EXPECT_EQ(content_type_from_bytes("fLaC\0\0\0\x22"s), "audio/flac");
  EXPECT_EQ(content_type_from_bytes("OggS\0\x02"s), "audio/ogg");
  EXPECT_EQ(content_type_from_bytes("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm"s),
            "video/webm");
  EXPECT_EQ(content_type_from_bytes("\x1A\x45\xDF\xA3\x9F\x42\x82\x88matroska"s),
            "video/x-matroska");
  EXPECT_EQ(content_type_from_bytes("hello world"s), "application/octet-stream");
  EXPECT_EQ(content_type_from_bytes(""s), "application/octet-stream");
}

TEST(FalContentType, SniffsRealFilesWhateverTheirName) {
  test::TempDir dir;
  // A WAV renamed to .mp4 is still announced as audio/wav.
  std::ofstream(dir / "speech.mp4", std::ios::binary) << "RIFF\x24\0\0\0WAVEfmt "s;
  EXPECT_EQ(sniff_content_type(dir / "speech.mp4"), "audio/wav");
  EXPECT_THROW(sniff_content_type(dir / "missing.wav"), Error);
}

TEST(FalContentType, SniffsTheSharedMedia) {
  const std::pair<const char*, const char*> cases[] = {
      {"talk_h264_aac.mp4", "video/mp4"},    {"talk_h264.mov", "video/quicktime"},
      {"speech_5s.wav", "audio/wav"},        {"real_speech_42s.mp3", "audio/mpeg"},
      {"speech.flac", "audio/flac"},         {"speech.ogg", "audio/ogg"},
      {"speech.m4a", "audio/mp4"},           {"speech.aac", "audio/aac"},
      {"talk_vp9_opus.webm", "video/webm"},  {"talk.mkv", "video/x-matroska"},
      {"talk_mpeg4.avi", "video/x-msvideo"}, {"text_as_video.mp4", "application/octet-stream"},
  };
  for (const auto& [file, expected] : cases) {
    EXPECT_EQ(sniff_content_type(test::media(file)), expected) << file;
  }
}

}  // namespace
}  // namespace lipsyncd::fal
