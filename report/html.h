// Self-contained HTML pages (`shardlab report`): one file a browser opens with no server and no
// network, so every picture is a data: URI or inline SVG, the style sheet and the script are inline,
// and the only links are to the page's own sections.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace shardlab::html {

// `text` with & < > " ' escaped, for element text and quoted attributes.
std::string escaped(const std::string& text);

// Standard base64 (RFC 4648, with padding) of any bytes.
std::string base64(const std::string& bytes);
// "data:MIME;base64,...".
std::string data_uri(const std::string& mime, const std::string& bytes);
// The MIME type of a picture or video by its file name's extension ("image/png", "video/mp4",
// ...); "" for anything else.
std::string media_type(const std::string& file_name);

// A table of text cells (each escaped); a row shorter than the header is padded with empty cells.
// `align_numbers`: cells that are numbers are set right (a column of numbers); off for key/value
// tables, whose values mix numbers and words.
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                  bool align_numbers = true);

// The rows of CSV text: fields split at commas, double-quoted fields may hold commas, quotes ("")
// and line breaks. A trailing comma gives an empty last field.
std::vector<std::vector<std::string>> csv_rows(const std::string& text);
// CSV text as a table (its first row the header) of at most `max_rows` rows, then a note saying
// how many were left out.
std::string csv_table(const std::string& text, size_t max_rows);

// The Markdown that shardlab's summaries use: # headings (shown one level below `level`), pipe
// tables, paragraphs, `code` and **bold**. Everything else is plain text.
std::string markdown(const std::string& text, int level);

// An SVG document made fit to sit inside HTML: the XML namespace attribute dropped (HTML knows
// <svg>), a viewBox from its width and height added so it scales down with the page.
std::string inline_svg(const std::string& svg);

// A page: a header (title and a line under it), a table of contents of the level-2 sections, the
// sections in order. Its inline script records, once the page has loaded, on <body>:
// data-images="DECODED/ALL" (an <img> decoded: complete with a natural width), data-videos (the
// same for <video> with metadata loaded), data-errors (script errors seen) and data-checked="1".
struct Section {
  std::string id;     // unique within the page: the contents' link target
  std::string title;  // plain text
  std::string body;   // HTML
  int level = 2;      // 2: in the table of contents; 3: a subsection of the section before it
};

class Page {
 public:
  Page(std::string title, std::string subtitle) : title_(std::move(title)), subtitle_(std::move(subtitle)) {}
  void add(Section section) { sections_.push_back(std::move(section)); }
  std::string render() const;

 private:
  std::string title_, subtitle_;
  std::vector<Section> sections_;
};

}  // namespace shardlab::html
