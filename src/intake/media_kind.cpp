#include "media_kind.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

namespace lipsyncd::intake {
namespace {

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// What the first bytes say, or unknown.
MediaKind sniff(const std::filesystem::path& file) {
  std::array<unsigned char, 16> head{};
  std::ifstream in(file, std::ios::binary);
  in.read(reinterpret_cast<char*>(head.data()), head.size());
  const auto got = static_cast<std::size_t>(in.gcount());
  const auto at = [&](std::size_t offset, std::string_view magic) {
    return got >= offset + magic.size() &&
           std::memcmp(head.data() + offset, magic.data(), magic.size()) == 0;
  };
  if (at(0, "RIFF") && at(8, "WAVE")) return MediaKind::audio;
  if (at(0, "RIFF") && at(8, "AVI ")) return MediaKind::video;
  if (at(4, "ftyp")) return at(8, "M4A ") ? MediaKind::audio : MediaKind::video;
  if (at(0, "\x1a\x45\xdf\xa3")) return MediaKind::video;  // Matroska / WebM
  if (at(0, "fLaC") || at(0, "OggS") || at(0, "ID3")) return MediaKind::audio;
  if (got >= 2 && head[0] == 0xff && (head[1] & 0xf0) == 0xf0) return MediaKind::audio;  // MP3/ADTS
  if (at(0, "\xff\xd8\xff") || at(0, "\x89PNG")) return MediaKind::image;
  return MediaKind::unknown;
}

}  // namespace

bool is_ignored_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.front() == '~') return true;
  const std::string lowered = lower(name);
  return ends_with(lowered, ".part") || ends_with(lowered, ".tmp") ||
         ends_with(lowered, ".crdownload");
}

bool is_manifest_name(std::string_view name) {
  const std::string lowered = lower(name);
  return lowered == "job.json" || (ends_with(lowered, ".job.json") && lowered.size() > 9);
}

MediaKind classify_file(const std::filesystem::path& file) {
  static const std::set<std::string> kVideo = {".mov", ".avi", ".webm", ".mkv", ".m4v"};
  static const std::set<std::string> kAudio = {".wav", ".mp3", ".aac",  ".flac",
                                               ".m4a", ".ogg", ".opus", ".oga"};
  static const std::set<std::string> kImage = {".jpg", ".jpeg", ".png", ".webp", ".bmp"};
  const std::string name = file.filename().string();
  if (is_manifest_name(name)) return MediaKind::manifest;
  const std::string extension = lower(file.extension().string());
  if (kVideo.contains(extension)) return MediaKind::video;
  if (kAudio.contains(extension)) return MediaKind::audio;
  if (kImage.contains(extension)) return MediaKind::image;
  const MediaKind sniffed = sniff(file);
  // An .mp4 is a video unless its brand says audio-only; an unreadable or text .mp4 is still
  // offered as a video, so the media check can say precisely what is wrong with it.
  if (extension == ".mp4") return sniffed == MediaKind::audio ? MediaKind::audio : MediaKind::video;
  return sniffed;
}

std::string stem_of(const std::filesystem::path& file) {
  return file.stem().string();
}

}  // namespace lipsyncd::intake
