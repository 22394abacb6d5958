// Hdf5File: attributes on the root, groups and datasets, set and read typed or formatted for
// people (the listing shows them too).
#include <hdf5.h>

#include <cstdio>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/hdf5_internal.h"

namespace shardlab {
namespace {

// Arrays in a listing show this many values, then "...".
constexpr size_t kMaxListedValues = 16;
constexpr size_t kMaxFixedStringBytes = 60000;

// The path of an open object, for messages.
std::string name_of(hid_t object) {
  char name[512] = {0};
  return H5Iget_name(object, name, sizeof name) > 0 ? std::string(name) : std::string("an object");
}

std::string escaped(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string join_values(const std::vector<std::string>& values, bool scalar) {
  if (scalar && values.size() == 1) return values[0];
  std::string out = "[";
  for (size_t i = 0; i < values.size() && i < kMaxListedValues; ++i) out += (i ? ", " : "") + values[i];
  if (values.size() > kMaxListedValues) out += ", ... (" + std::to_string(values.size()) + " values)";
  return out + "]";
}

}  // namespace

using namespace hdf5_internal;

Id Hdf5File::Impl::open_attribute(const std::string& object, const std::string& name) const {
  Id owner = open_object(object);
  const htri_t exists = H5Aexists(owner.get(), name.c_str());
  if (exists <= 0) fail("attribute " + quoted(name) + " of " + quoted(display_name(object)) + " missing", false);
  Id attribute(H5Aopen(owner.get(), name.c_str(), H5P_DEFAULT));
  if (!attribute.ok()) fail("cannot open attribute " + quoted(name) + " of " + quoted(display_name(object)));
  return attribute;
}

void Hdf5File::Impl::write_attribute(const std::string& object, const std::string& name, hid_t file_type, hid_t memory,
                                     hid_t space, const void* data) {
  require_writable("set attribute " + quoted(name));
  Id owner = open_object(object);
  if (H5Aexists(owner.get(), name.c_str()) > 0 && H5Adelete(owner.get(), name.c_str()) < 0)
    fail("cannot replace attribute " + quoted(name) + " of " + quoted(display_name(object)));
  Id attribute(H5Acreate2(owner.get(), name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!attribute.ok() || H5Awrite(attribute.get(), memory, data) < 0)
    fail("cannot write attribute " + quoted(name) + " of " + quoted(display_name(object)));
}

std::vector<std::string> Hdf5File::Impl::attribute_strings(hid_t attribute, const std::string& what) const {
  Id type(H5Aget_type(attribute));
  Id space(H5Aget_space(attribute));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<std::string> out;
  if (n <= 0) return out;
  if (H5Tis_variable_str(type.get()) > 0) {
    Id memory(H5Tcopy(H5T_C_S1));
    H5Tset_size(memory.get(), H5T_VARIABLE);
    H5Tset_cset(memory.get(), H5Tget_cset(type.get()));
    std::vector<char*> pointers(static_cast<size_t>(n), nullptr);
    if (H5Aread(attribute, memory.get(), pointers.data()) < 0) fail("cannot read attribute " + what);
    for (char* p : pointers) {
      out.emplace_back(p != nullptr ? p : "");
      if (p != nullptr) H5free_memory(p);
    }
  } else {
    const size_t size = H5Tget_size(type.get());
    Id memory(H5Tcopy(type.get()));
    std::vector<char> raw(static_cast<size_t>(n) * size);
    if (H5Aread(attribute, memory.get(), raw.data()) < 0) fail("cannot read attribute " + what);
    const bool space_padded = H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD;
    for (hssize_t i = 0; i < n; ++i) {
      std::string s(raw.data() + i * size, size);
      s = s.substr(0, s.find('\0'));
      if (space_padded) s.erase(s.find_last_not_of(' ') + 1);
      out.push_back(s);
    }
  }
  return out;
}

template <typename T>
std::vector<T> Hdf5File::Impl::attribute_numbers(hid_t attribute, const std::string& what) const {
  Id type(H5Aget_type(attribute));
  Id space(H5Aget_space(attribute));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<T> out;
  if (n <= 0) return out;
  out.resize(static_cast<size_t>(n));
  if (H5Tget_class(type.get()) == H5T_ENUM) {
    Id native(H5Tget_native_type(type.get(), H5T_DIR_ASCEND));
    Id base(H5Tget_super(native.get()));
    const size_t size = H5Tget_size(base.get());
    const bool is_signed = H5Tget_sign(base.get()) != H5T_SGN_NONE;
    std::vector<unsigned char> raw(static_cast<size_t>(n) * size);
    if (H5Aread(attribute, native.get(), raw.data()) < 0) fail("cannot read attribute " + what);
    for (hssize_t i = 0; i < n; ++i) {
      const unsigned char* p = raw.data() + i * size;
      out[i] = is_signed ? static_cast<T>(load_signed(p, size)) : static_cast<T>(load_unsigned(p, size));
    }
  } else if (H5Aread(attribute, memory_type<T>(), out.data()) < 0) {
    fail("cannot read attribute " + what);
  }
  return out;
}

template <typename T>
std::vector<T> Hdf5File::Impl::typed_attribute(const std::string& object, const std::string& name, bool allow_float,
                                               bool scalar) const {
  Id attribute = open_attribute(object, name);
  Id type(H5Aget_type(attribute.get()));
  Id space(H5Aget_space(attribute.get()));
  const std::string what = quoted(name) + " of " + quoted(display_name(object));
  const Hdf5Class cls = class_of(type.get());
  const bool numeric =
      cls == Hdf5Class::kInteger || cls == Hdf5Class::kBool || (allow_float && cls == Hdf5Class::kFloat);
  if (!numeric)
    fail("attribute " + what + " is " + type_name(type.get()) + ", expected " +
             (allow_float ? "a number" : "an integer"),
         false);
  std::vector<T> values = attribute_numbers<T>(attribute.get(), what);
  if (scalar && values.size() != 1)
    fail("attribute " + what + " has " + std::to_string(values.size()) + " values, expected one", false);
  return values;
}

std::string Hdf5File::Impl::format_attribute(hid_t attribute, const std::string& what) const {
  Id type(H5Aget_type(attribute));
  Id space(H5Aget_space(attribute));
  const H5S_class_t extent = H5Sget_simple_extent_type(space.get());
  if (extent == H5S_NULL) return "(empty)";
  const bool scalar = extent == H5S_SCALAR;
  std::vector<std::string> values;
  switch (H5Tget_class(type.get())) {
    case H5T_STRING:
      for (const std::string& s : attribute_strings(attribute, what)) values.push_back(escaped(s));
      break;
    case H5T_INTEGER:
      if (H5Tget_sign(type.get()) == H5T_SGN_NONE && H5Tget_size(type.get()) == 8) {
        Id memory(H5Tcopy(H5T_NATIVE_UINT64));
        Id s(H5Aget_space(attribute));
        std::vector<uint64_t> v(static_cast<size_t>(H5Sget_simple_extent_npoints(s.get())));
        if (!v.empty() && H5Aread(attribute, memory.get(), v.data()) < 0) fail("cannot read attribute " + what);
        for (uint64_t x : v) values.push_back(std::to_string(x));
      } else {
        for (int64_t x : attribute_numbers<int64_t>(attribute, what)) values.push_back(std::to_string(x));
      }
      break;
    case H5T_FLOAT:
      for (double x : attribute_numbers<double>(attribute, what)) values.push_back(format_number(x));
      break;
    case H5T_ENUM: {
      const bool is_bool = is_bool_enum(type.get());
      for (int64_t x : attribute_numbers<int64_t>(attribute, what))
        values.push_back(is_bool ? (x ? "true" : "false") : std::to_string(x));
      break;
    }
    default:
      return "<" + type_name(type.get()) + ">";
  }
  return join_values(values, scalar);
}

std::vector<Hdf5Attribute> Hdf5File::Impl::attributes_of(hid_t object) const {
  std::vector<std::string> names;
  hsize_t index = 0;
  const herr_t listed = H5Aiterate2(
      object, H5_INDEX_NAME, H5_ITER_INC, &index,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names);
  if (listed < 0) fail("cannot list the attributes of " + quoted(name_of(object)));
  std::vector<Hdf5Attribute> out;
  for (const std::string& name : names) {
    Id attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT));
    if (!attribute.ok()) fail("cannot open attribute " + quoted(name) + " of " + quoted(name_of(object)));
    out.push_back({name, format_attribute(attribute.get(), quoted(name))});
  }
  return out;
}

void Hdf5File::set_string_attribute(const std::string& object, const std::string& name, const std::string& value) {
  quiet();
  Id type(H5Tcopy(H5T_C_S1));
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Id space(H5Screate(H5S_SCALAR));
  // A fixed-length string lives in the object header, under its checksum; a variable-length one
  // would live in the global heap, which HDF5 does not checksum. Beyond HDF5's 64 KiB limit for
  // a header message, the string is variable-length.
  if (value.size() < kMaxFixedStringBytes) {
    H5Tset_size(type.get(), value.size() + 1);
    H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
    impl().write_attribute(object, name, type.get(), type.get(), space.get(), value.c_str());
    return;
  }
  H5Tset_size(type.get(), H5T_VARIABLE);
  const char* text = value.c_str();
  impl().write_attribute(object, name, type.get(), type.get(), space.get(), &text);
}

void Hdf5File::set_int_attribute(const std::string& object, const std::string& name, int64_t value) {
  quiet();
  Id space(H5Screate(H5S_SCALAR));
  impl().write_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space.get(), &value);
}

void Hdf5File::set_double_attribute(const std::string& object, const std::string& name, double value) {
  quiet();
  Id space(H5Screate(H5S_SCALAR));
  impl().write_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space.get(), &value);
}

void Hdf5File::set_int_array_attribute(const std::string& object, const std::string& name,
                                       const std::vector<int64_t>& value) {
  quiet();
  const hsize_t n = value.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  impl().write_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space.get(), value.data());
}

void Hdf5File::set_double_array_attribute(const std::string& object, const std::string& name,
                                          const std::vector<double>& value) {
  quiet();
  const hsize_t n = value.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  impl().write_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space.get(), value.data());
}

bool Hdf5File::has_attribute(const std::string& object, const std::string& name) const {
  quiet();
  const Impl& m = impl();
  if (m.object_type(object) == H5I_BADID) return false;
  Id owner = m.open_object(object);
  return H5Aexists(owner.get(), name.c_str()) > 0;
}

std::string Hdf5File::string_attribute(const std::string& object, const std::string& name) const {
  quiet();
  const Impl& m = impl();
  Id attribute = m.open_attribute(object, name);
  Id type(H5Aget_type(attribute.get()));
  const std::string what = quoted(name) + " of " + quoted(display_name(object));
  if (H5Tget_class(type.get()) != H5T_STRING)
    m.fail("attribute " + what + " is " + type_name(type.get()) + ", expected a string", false);
  std::vector<std::string> values = m.attribute_strings(attribute.get(), what);
  if (values.size() != 1)
    m.fail("attribute " + what + " has " + std::to_string(values.size()) + " strings, expected one", false);
  return values[0];
}

int64_t Hdf5File::int_attribute(const std::string& object, const std::string& name) const {
  quiet();
  return impl().typed_attribute<int64_t>(object, name, false, true)[0];
}

double Hdf5File::double_attribute(const std::string& object, const std::string& name) const {
  quiet();
  return impl().typed_attribute<double>(object, name, true, true)[0];
}

std::vector<int64_t> Hdf5File::int_array_attribute(const std::string& object, const std::string& name) const {
  quiet();
  return impl().typed_attribute<int64_t>(object, name, false, false);
}

std::vector<double> Hdf5File::double_array_attribute(const std::string& object, const std::string& name) const {
  quiet();
  return impl().typed_attribute<double>(object, name, true, false);
}

std::vector<Hdf5Attribute> Hdf5File::attributes(const std::string& object) const {
  quiet();
  Id owner = impl().open_object(object);
  return impl().attributes_of(owner.get());
}

}  // namespace shardlab
