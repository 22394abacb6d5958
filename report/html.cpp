#include "report/html.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <sstream>
#include <utility>

#include "core/text.h"

namespace shardlab::html {
namespace {

// Kept small and plain: the page must read well printed, on a laptop and in a narrow window.
constexpr const char* kStyle = R"(
:root { --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --soft: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.5 system-ui, -apple-system, "Segoe UI",
  Roboto, "Helvetica Neue", Arial, sans-serif; }
header { padding: 24px 32px 16px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0; color: var(--muted); }
main, nav.toc { max-width: 1180px; margin: 0 auto; padding: 0 32px; }
nav.toc { padding-top: 16px; }
nav.toc h2 { font-size: 16px; margin: 0 0 4px; }
nav.toc ol { margin: 0; padding-left: 22px; }
nav.toc ol ol { font-size: 14px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
section { margin: 28px 0; }
h2 { font-size: 21px; border-bottom: 1px solid var(--line); padding-bottom: 4px; margin: 36px 0 12px; }
h3 { font-size: 17px; margin: 22px 0 8px; }
h4, h5, h6 { font-size: 15px; margin: 16px 0 6px; }
p.note { color: var(--muted); font-size: 13px; margin: 4px 0 12px; }
.scroll { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
tr:nth-child(even) td { background: #fbfcfd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--soft); border: 1px solid var(--line); padding: 10px 12px; overflow-x: auto; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); }
figure { margin: 12px 0 20px; }
figure img, figure video, figure svg { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
img.pixelated { image-rendering: pixelated; }
)";

// Records on <body>, once the page has loaded, whether every picture and video decoded and
// whether any script failed, so a headless browser's DOM dump shows it.
constexpr const char* kScript = R"(
(function () {
  var errors = 0;
  function mark(name, value) { if (document.body) document.body.setAttribute(name, value); }
  window.onerror = function () { errors += 1; mark('data-errors', String(errors)); return false; };
  function count() {
    var images = document.images, decoded = 0, i;
    for (i = 0; i < images.length; i++) if (images[i].complete && images[i].naturalWidth > 0) decoded++;
    var videos = document.getElementsByTagName('video'), loaded = 0;
    for (i = 0; i < videos.length; i++) if (videos[i].readyState >= 1 && !videos[i].error) loaded++;
    mark('data-images', decoded + '/' + images.length);
    mark('data-videos', loaded + '/' + videos.length);
    mark('data-errors', String(errors));
  }
  document.addEventListener('loadedmetadata', count, true);
  document.addEventListener('error', count, true);
  window.addEventListener('load', function () { count(); mark('data-checked', '1'); });
})();
)";

bool numeric(const std::string& text) {
  if (text.empty()) return false;
  size_t used = 0;
  try {
    std::stod(text, &used);
  } catch (...) {
    return false;
  }
  return used == text.size();
}

// `code` and **bold** in escaped text.
std::string inline_markdown(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '`') {
      const size_t end = text.find('`', i + 1);
      if (end != std::string::npos) {
        out += "<code>" + escaped(text.substr(i + 1, end - i - 1)) + "</code>";
        i = end + 1;
        continue;
      }
    }
    if (text.compare(i, 2, "**") == 0) {
      const size_t end = text.find("**", i + 2);
      if (end != std::string::npos) {
        out += "<strong>" + inline_markdown(text.substr(i + 2, end - i - 2)) + "</strong>";
        i = end + 2;
        continue;
      }
    }
    out += escaped(std::string(1, text[i]));
    ++i;
  }
  return out;
}

std::vector<std::string> pipe_cells(const std::string& line) {
  std::string body = trim(line);
  if (!body.empty() && body.front() == '|') body.erase(0, 1);
  if (!body.empty() && body.back() == '|') body.pop_back();
  std::vector<std::string> cells;
  std::string cell;
  for (char c : body) {
    if (c == '|') {
      cells.push_back(trim(cell));
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(trim(cell));
  return cells;
}

bool separator_row(const std::vector<std::string>& cells) {
  for (const auto& c : cells)
    if (c.empty() || c.find_first_not_of("-: ") != std::string::npos) return false;
  return true;
}

// The value of attribute `name` in an opening tag, or "".
std::string attribute(const std::string& tag, const std::string& name) {
  for (const char quote : {'\'', '"'}) {
    const std::string key = " " + name + "=" + quote;
    const size_t at = tag.find(key);
    if (at == std::string::npos) continue;
    const size_t begin = at + key.size(), end = tag.find(quote, begin);
    if (end != std::string::npos) return tag.substr(begin, end - begin);
  }
  return "";
}

}  // namespace

std::string escaped(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (two ? static_cast<uint8_t>(bytes[i + 1]) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += two ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string data_uri(const std::string& mime, const std::string& bytes) {
  return "data:" + mime + ";base64," + base64(bytes);
}

std::string media_type(const std::string& file_name) {
  const size_t dot = file_name.rfind('.');
  if (dot == std::string::npos) return "";
  std::string ext = file_name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == "png") return "image/png";
  if (ext == "gif") return "image/gif";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "webp") return "image/webp";
  if (ext == "mp4") return "video/mp4";
  if (ext == "webm") return "video/webm";
  return "";
}

std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                  bool align_numbers) {
  std::ostringstream out;
  out << "<div class='scroll'><table>\n<thead><tr>";
  for (const auto& h : header) out << "<th>" << escaped(h) << "</th>";
  out << "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out << "<tr>";
    for (size_t i = 0; i < std::max(row.size(), header.size()); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out << (align_numbers && numeric(cell) ? "<td class='num'>" : "<td>") << escaped(cell) << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</tbody></table></div>\n";
  return out.str();
}

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = any = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n') {
      if (!field.empty() && field.back() == '\r') field.pop_back();
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (any || !field.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string csv_table(const std::string& text, size_t max_rows) {
  auto rows = csv_rows(text);
  if (rows.empty()) return "<p class='note'>(empty file)</p>\n";
  const std::vector<std::string> header = rows.front();
  rows.erase(rows.begin());
  const size_t total = rows.size();
  if (rows.size() > max_rows) rows.resize(max_rows);
  std::string out = table(header, rows);
  if (total > max_rows)
    out += "<p class='note'>The first " + std::to_string(max_rows) + " of " + std::to_string(total) +
           " rows; the file has them all.</p>\n";
  return out;
}

std::string markdown(const std::string& text, int level) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::ostringstream out;
  std::string paragraph;
  auto flush = [&] {
    if (!paragraph.empty()) out << "<p>" << inline_markdown(paragraph) << "</p>\n";
    paragraph.clear();
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string line = trim(lines[i]);
    if (line.empty()) {
      flush();
    } else if (line[0] == '#') {
      flush();
      const size_t hashes = line.find_first_not_of('#');
      const int h = std::min<int>(6, level + static_cast<int>(hashes == std::string::npos ? line.size() : hashes));
      out << "<h" << h << ">" << inline_markdown(trim(line.substr(std::min(line.size(), hashes)))) << "</h" << h
          << ">\n";
    } else if (line[0] == '|') {
      flush();
      std::vector<std::vector<std::string>> rows;
      for (; i < lines.size() && !trim(lines[i]).empty() && trim(lines[i])[0] == '|'; ++i) {
        auto cells = pipe_cells(lines[i]);
        if (!separator_row(cells)) rows.push_back(std::move(cells));
      }
      --i;
      out << "<div class='scroll'><table>\n";
      for (size_t r = 0; r < rows.size(); ++r) {
        const char* tag = r == 0 ? "th" : "td";
        out << "<tr>";
        for (const auto& cell : rows[r]) out << "<" << tag << ">" << inline_markdown(cell) << "</" << tag << ">";
        out << "</tr>\n";
      }
      out << "</table></div>\n";
    } else {
      paragraph += (paragraph.empty() ? "" : " ") + line;
    }
  }
  flush();
  return out.str();
}

std::string inline_svg(const std::string& svg) {
  const size_t start = svg.find("<svg");
  if (start == std::string::npos) return svg;
  const size_t end = svg.find('>', start);
  if (end == std::string::npos) return svg;
  std::string tag = svg.substr(start, end - start);
  for (const char* ns : {" xmlns='http://www.w3.org/2000/svg'", " xmlns=\"http://www.w3.org/2000/svg\""}) {
    const size_t at = tag.find(ns);
    if (at != std::string::npos) tag.erase(at, std::string(ns).size());
  }
  const std::string width = attribute(tag, "width"), height = attribute(tag, "height");
  if (attribute(tag, "viewBox").empty() && numeric(width) && numeric(height))
    tag += " viewBox='0 0 " + width + " " + height + "'";
  return tag + svg.substr(end);
}

std::string Page::render() const {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
      << "<meta name='viewport' content='width=device-width, initial-scale=1'>\n<title>" << escaped(title_)
      << "</title>\n<style>" << kStyle << "</style>\n<script>" << kScript << "</script>\n</head>\n"
      << "<body data-images='unchecked' data-videos='unchecked' data-errors='0'>\n<header>\n<h1>" << escaped(title_)
      << "</h1>\n<p>" << escaped(subtitle_) << "</p>\n</header>\n";
  out << "<nav class='toc'>\n<h2>Contents</h2>\n<ol>\n";
  bool open_sub = false, open_item = false;
  for (const Section& s : sections_) {
    if (s.level <= 2) {
      if (open_sub) out << "</ol>";
      if (open_item) out << "</li>\n";
      out << "<li><a href='#" << escaped(s.id) << "'>" << escaped(s.title) << "</a>";
      open_item = true;
      open_sub = false;
    } else {
      if (!open_sub) out << "\n<ol>";
      open_sub = true;
      out << "<li><a href='#" << escaped(s.id) << "'>" << escaped(s.title) << "</a></li>";
    }
  }
  if (open_sub) out << "</ol>";
  if (open_item) out << "</li>\n";
  out << "</ol>\n</nav>\n<main>\n";
  for (const Section& s : sections_) {
    const int h = std::clamp(s.level, 2, 6);
    out << "<section id='" << escaped(s.id) << "'>\n<h" << h << ">" << escaped(s.title) << "</h" << h << ">\n"
        << s.body << "</section>\n";
  }
  out << "</main>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace shardlab::html
