#include "lipsyncd/fal/content_type.hpp"

#include <array>
#include <cstring>
#include <fstream>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::fal {
namespace {

bool starts_with_at(std::string_view data, std::size_t offset, std::string_view magic) {
  return data.size() >= offset + magic.size() && data.substr(offset, magic.size()) == magic;
}

unsigned char byte_at(std::string_view data, std::size_t i) {
  return static_cast<unsigned char>(data[i]);
}

std::string iso_media_type(std::string_view data) {
  // ISO base media: [size]["ftyp"][major brand]. QuickTime and audio-only brands differ.
  const std::string_view brand = data.substr(8, 4);
  if (brand == "qt  ") return "video/quicktime";
  if (brand == "M4A " || brand == "M4B ") return "audio/mp4";
  return "video/mp4";
}

}  // namespace

std::string content_type_from_bytes(std::string_view data) {
  if (starts_with_at(data, 4, "ftyp") && data.size() >= 12) return iso_media_type(data);
  // QuickTime files without ftyp start with another atom.
  if (starts_with_at(data, 4, "moov") || starts_with_at(data, 4, "mdat") ||
      starts_with_at(data, 4, "wide")) {
    return "video/quicktime";
  }
  if (starts_with_at(data, 0, "RIFF") && starts_with_at(data, 8, "WAVE")) return "audio/wav";
  if (starts_with_at(data, 0, "RIFF") && starts_with_at(data, 8, "AVI ")) return "video/x-msvideo";
  if (starts_with_at(data, 0, "fLaC")) return "audio/flac";
  if (starts_with_at(data, 0, "OggS")) return "audio/ogg";
  if (starts_with_at(data, 0, "ID3")) return "audio/mpeg";
  if (starts_with_at(data, 0, "\x1A\x45\xDF\xA3")) {
    // Matroska and WebM share EBML; the DocType tells them apart.
    const auto head = data.substr(0, std::min<std::size_t>(data.size(), 64));
    return head.find("webm") != std::string_view::npos ? "video/webm" : "video/x-matroska";
  }
  if (data.size() >= 2 && byte_at(data, 0) == 0xFF && (byte_at(data, 1) & 0xF6) == 0xF0) {
    return "audio/aac";  // ADTS: sync word, layer 0
  }
  if (data.size() >= 2 && byte_at(data, 0) == 0xFF && (byte_at(data, 1) & 0xE0) == 0xE0) {
    return "audio/mpeg";  // MPEG audio frame sync without an ID3 tag
  }
  return "application/octet-stream";
}

std::string sniff_content_type(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error("input_unreadable", "cannot read " + file.string(),
                "check that the file exists and is readable");
  }
  std::array<char, 64> head{};
  in.read(head.data(), head.size());
  return content_type_from_bytes(
      std::string_view(head.data(), static_cast<std::size_t>(in.gcount())));
}

}  // namespace lipsyncd::fal
