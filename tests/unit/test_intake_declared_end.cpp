// Whether a file's structure proves it is complete: every real MP4/MOV/M4A/WAV/AVI of the
// shared corpus does; any head of one, a truncated file, a box "to the end", fragments and
// formats without a declared length do not; a FIFO answers at once.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>

#include "lipsyncd/intake/declared_end.hpp"
#include "test_media.hpp"

namespace lipsyncd::intake {
namespace {

namespace fs = std::filesystem;

std::string box(const std::string& type, const std::string& payload) {
  const auto size = static_cast<std::uint32_t>(8 + payload.size());
  std::string header{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8), static_cast<char>(size)};
  return header + type + payload;
}

class DeclaredEndTest : public testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& bytes) {
    const auto file = dir_ / name;
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }
  test::TempDir dir_;
};

TEST_F(DeclaredEndTest, EveryCompleteMediaFileOfTheCorpusWithADeclaredLengthDeclaresItsEnd) {
  const auto manifest = boost::json::parse(test::read_text(test::media("MANIFEST.json")));
  int checked = 0;
  for (const auto& entry : manifest.as_array()) {
    const std::string file(entry.at("file").as_string());
    const std::string container(entry.at("container").as_string());
    if (container != "mp4" && container != "mov" && container != "wav" && container != "avi" &&
        container != "m4a") {
      continue;
    }
    if (file == "truncated_half.mp4") {
      EXPECT_FALSE(declares_its_own_end(test::media(file))) << file;
      continue;
    }
    EXPECT_TRUE(declares_its_own_end(test::media(file))) << file;
    ++checked;
  }
  EXPECT_GE(checked, 30);  // the corpus holds dozens: a parse slip must not skip them all
}

TEST_F(DeclaredEndTest, NoHeadOfARealFileDeclaresItsEnd) {
  // What an appending writer leaves between rounds: every cut of a faststart MP4, a
  // moov-at-the-end MP4, a MOV and a WAV, including cuts right after the header boxes.
  for (const auto* name :
       {"pair_eq_video.mp4", "real_talk_lp_d10.mp4", "talk_h264.mov", "pair_eq_audio.wav"}) {
    const std::string bytes = test::read_text(test::media(name));
    ASSERT_GT(bytes.size(), 100'000u);
    std::vector<std::size_t> cuts = {
        12, 24, 32, 1000, 4096, 65536, bytes.size() / 2, bytes.size() - 1};
    for (std::size_t at = 0; at + 8 <= bytes.size();) {  // every top-level box boundary
      cuts.push_back(at);
      std::uint64_t size = (std::uint64_t{static_cast<unsigned char>(bytes[at])} << 24) |
                           (static_cast<unsigned char>(bytes[at + 1]) << 16) |
                           (static_cast<unsigned char>(bytes[at + 2]) << 8) |
                           static_cast<unsigned char>(bytes[at + 3]);
      if (bytes.compare(0, 4, "RIFF") == 0 || size < 8) break;
      at += size;
    }
    for (const auto cut : cuts) {
      if (cut == 0 || cut >= bytes.size()) continue;
      const auto head = write("head", bytes.substr(0, cut));
      EXPECT_FALSE(declares_its_own_end(head)) << name << " cut at " << cut;
    }
  }
}

TEST_F(DeclaredEndTest, BoxesMustTileTheFileWithOneMoovAndOneMdatAndNoFragments) {
  const std::string ftyp = box("ftyp", std::string("isom\0\0\0\0isommp41", 16));
  const std::string moov = box("moov", std::string(40, 'm'));
  const std::string mdat = box("mdat", std::string(100, 'd'));
  EXPECT_TRUE(declares_its_own_end(write("ok.mp4", ftyp + moov + mdat)));
  EXPECT_TRUE(declares_its_own_end(write("end.mp4", ftyp + mdat + moov)));
  EXPECT_FALSE(declares_its_own_end(write("no_mdat.mp4", ftyp + moov)));
  EXPECT_FALSE(declares_its_own_end(write("no_moov.mp4", ftyp + mdat)));
  EXPECT_FALSE(declares_its_own_end(write("two_mdat.mp4", ftyp + moov + mdat + mdat)));
  EXPECT_FALSE(
      declares_its_own_end(write("fragmented.mp4", ftyp + moov + box("moof", "f") + mdat)));
  EXPECT_FALSE(declares_its_own_end(write("trailing.mp4", ftyp + moov + mdat + "xyz")));
  std::string to_end = ftyp + moov + box("mdat", std::string(100, 'd'));
  to_end[ftyp.size() + moov.size() + 3] = 0;  // size 0: "up to the end of the file"
  to_end[ftyp.size() + moov.size() + 2] = 0;
  EXPECT_FALSE(declares_its_own_end(write("to_end.mp4", to_end)));
}

TEST_F(DeclaredEndTest, RiffSizeMustBeTheFileSize) {
  const std::string body = "WAVEfmt " + std::string(60, 'a');
  const auto riff = [](std::uint32_t size) {
    return std::string("RIFF") + std::string{static_cast<char>(size), static_cast<char>(size >> 8),
                                             static_cast<char>(size >> 16),
                                             static_cast<char>(size >> 24)};
  };
  const auto size = static_cast<std::uint32_t>(body.size());
  EXPECT_TRUE(declares_its_own_end(write("ok.wav", riff(size) + body)));
  EXPECT_FALSE(declares_its_own_end(write("longer.wav", riff(size + 4096) + body)));
  EXPECT_FALSE(declares_its_own_end(write("streamed.wav", riff(0xffffffffu) + body)));
}

TEST_F(DeclaredEndTest, AManifestIsCompleteWhenItParsesAsOneObject) {
  EXPECT_TRUE(declares_its_own_end(write("a.job.json", R"({"video": "a.mp4", "audio": "a.wav"})")));
  EXPECT_FALSE(declares_its_own_end(write("b.job.json", R"({"video": "a.mp4", "audio": )")));
  EXPECT_FALSE(declares_its_own_end(write("c.job.json", R"(["a.mp4"])")));
}

TEST_F(DeclaredEndTest, FormatsWithoutADeclaredLengthAndSpecialFilesNeverDo) {
  EXPECT_FALSE(declares_its_own_end(test::media("real_speech_42s.mp3")));
  EXPECT_FALSE(declares_its_own_end(test::media("face_single.png")));
  EXPECT_FALSE(declares_its_own_end(write("empty.mp4", "")));
  EXPECT_FALSE(declares_its_own_end(dir_.path() / "missing.mp4"));
  const auto fifo = dir_.path() / "pipe.mp4";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(declares_its_own_end(fifo));  // returns at once: nobody writes to it
}

}  // namespace
}  // namespace lipsyncd::intake
