#pragma once
// What a media file really is, sniffed from its content (never from its name): container,
// streams, durations, rotation, frame-rate regularity. probe() is synchronous and CPU/IO-bound:
// call it from the daemon's bounded CPU pool, never from the event loop. Thread-safe.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace lipsyncd::media {

// A part of a clip in seconds from its start; the sync plan uploads only this much.
struct TimeSpan {
  double start_s = 0;
  double duration_s = 0;
  double end_s() const { return start_s + duration_s; }
};

struct VideoStreamInfo {
  int stream_index = -1;        // the stream a player shows (see probe())
  int other_video_streams = 0;  // further video streams in the file, not used
  std::string codec;            // libavcodec's name: "h264", "hevc", "vp9", "mpeg4", ...
  std::string pixel_format;     // "yuv420p", ...
  int width = 0;                // coded size, before rotation
  int height = 0;
  double fps = 0;  // average frame rate
  bool variable_frame_rate = false;
  int rotation = 0;  // clockwise degrees a player turns the picture: 0, 90, 180, 270
  int sar_num = 1;   // sample (pixel) aspect ratio: anamorphic video has wide or tall pixels
  int sar_den = 1;
  // Of the video stream alone, from its first frame to the end of its last (measured over the
  // packets, like a full decode would); 0 when unknown.
  double duration_s = 0;
  // The upright size a viewer sees: pixel aspect ratio and rotation applied.
  int display_width() const { return rotation % 180 == 0 ? square_width() : height; }
  int display_height() const { return rotation % 180 == 0 ? height : square_width(); }

 private:
  int square_width() const {
    if (sar_num <= 0 || sar_den <= 0 || sar_num == sar_den) return width;
    return static_cast<int>(static_cast<long long>(width) * sar_num / sar_den);
  }
};

struct AudioStreamInfo {
  std::string codec;          // "pcm_s16le", "aac", "mp3", "flac", "opus", ...
  std::string sample_format;  // "s16", "fltp", ...
  int sample_rate = 0;
  int channels = 0;
  double duration_s = 0;  // of the audio stream alone, measured over its packets; 0 when unknown
};

// Loudness over the whole clip, in dB relative to full scale (digital silence: -inf).
struct Loudness {
  double peak_dbfs = 0;
  double rms_dbfs = 0;
};

struct MediaInfo {
  std::filesystem::path file;
  std::uintmax_t bytes = 0;
  std::string container;  // libavformat's demuxer name: "mov,mp4,m4a,3gp,3g2,mj2", "wav", ...
  // The container's duration, or measured from packets when it has none. The sync plan uses
  // the stream durations instead: a container may last longer than the stream that is used.
  double duration_s = 0;
  bool still_image = false;  // a photo (JPEG, PNG, ...), not a moving picture
  std::optional<VideoStreamInfo> video;
  std::optional<AudioStreamInfo> audio;
  std::optional<Loudness> loudness;  // filled by measure_loudness()
};

// Reads the container and stream headers, then every packet once without decoding (cheap: no
// codec runs): the packets measure each stream's real duration, tell constant from variable
// frame rate, and reveal a file holding less than its header promises.
// The video stream is the one a player shows: the one marked default, else the first.
// Throws lipsyncd::Error: empty_file, not_media (text or other non-media content),
// not_decodable (damaged media), truncated (the header promises more than the data holds,
// e.g. a copy cut off halfway), file_not_found.
MediaInfo probe(const std::filesystem::path& file);

// Seconds the video or audio side of a pair lasts: its stream's duration, else the
// container's (a MediaInfo made by hand may have only that).
double video_seconds(const MediaInfo& info);
double audio_seconds(const MediaInfo& info);

// Decodes the audio stream of `info.file` once and returns its peak and RMS level; constant
// memory whatever the length. Throws Error no_audio_stream / not_decodable.
Loudness measure_loudness(const MediaInfo& info);

// Short human names for the containers ("MP4/MOV", "WAV", "Matroska/WebM", ...).
std::string container_display_name(const std::string& libav_container);

}  // namespace lipsyncd::media
