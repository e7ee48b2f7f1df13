//! Stable names of enums: the one mechanism by which an enum lists the names other layers know
//! its variants by (the Python layer's `Literal`s and tables, the CLI's choices), each name
//! written once. `names!` gives the enum `NAMES` (every name, in the order listed) and the
//! function that names a value; a `match` on the same list, so a variant without a name does
//! not compile.
//!
//! - `names!(Mode as "mode" { Mirror => "mirror", … })`: an enum of unit variants gets `ALL`,
//!   `NAMES`, `name`, `from_name`, and `parse`, whose error names the argument (`mode`);
//!   without `as "…"`, no `parse`.
//! - `names!(Reason::code { Reason::Empty => "empty", Reason::Malformed(_) => "malformed", … })`:
//!   an enum whose variants carry data gets `NAMES` and `code(&self)`, by pattern.

macro_rules! names {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in the order of [`NAMES`](Self::NAMES).
            pub const ALL: [$ty; [$($text),+].len()] = [$($ty::$variant),+];
            /// Every name, as other layers know them.
            pub const NAMES: [&'static str; [$($text),+].len()] = [$($text),+];

            pub const fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }

            pub fn from_name(text: &str) -> Option<$ty> {
                $ty::ALL.into_iter().find(|value| value.name() == text)
            }
        }
    };
    ($ty:ident as $parameter:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $crate::core::names::names!($ty { $($variant => $text),+ });

        impl $ty {
            /// The value named `text`; a `ValueError` naming the argument and its choices.
            pub fn parse(text: &str) -> $crate::core::error::Result<$ty> {
                $ty::from_name(text).ok_or_else(|| {
                    $crate::core::error::unknown_name($parameter, &$ty::NAMES, text)
                })
            }
        }
    };
    ($ty:ident :: $function:ident { $($pattern:pat => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every name, as other layers know them.
            pub const NAMES: [&'static str; [$($text),+].len()] = [$($text),+];

            pub const fn $function(&self) -> &'static str {
                match self {
                    $($pattern => $text),+
                }
            }
        }
    };
}

pub(crate) use names;

#[cfg(test)]
mod tests {
    use crate::core::error::one_of;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Colour {
        Red,
        DarkBlue,
    }
    names!(Colour as "colour" { Red => "red", DarkBlue => "dark_blue" });

    enum Shape {
        Dot,
        Line(#[allow(dead_code)] u32),
    }
    names!(Shape::kind { Shape::Dot => "dot", Shape::Line(_) => "line" });

    #[test]
    fn every_value_has_its_one_name_and_reads_back() {
        assert_eq!(Colour::NAMES, ["red", "dark_blue"]);
        assert_eq!(Colour::ALL.map(Colour::name), Colour::NAMES);
        for colour in Colour::ALL {
            assert_eq!(Colour::from_name(colour.name()), Some(colour));
            assert_eq!(Colour::parse(colour.name()).unwrap(), colour);
        }
        assert_eq!(Colour::from_name("Red"), None);
        assert_eq!(Shape::NAMES, ["dot", "line"]);
        assert_eq!(Shape::Line(3).kind(), "line");
        assert_eq!(Shape::Dot.kind(), "dot");
    }

    #[test]
    fn an_unknown_name_is_refused_naming_the_argument_and_its_choices() {
        let err = Colour::parse("green").unwrap_err();
        assert_eq!(
            err.to_string(),
            "colour must be 'red' or 'dark_blue', got \"green\""
        );
        let argument = err.argument().expect("names its argument");
        assert_eq!((argument.name, argument.index), ("colour", None));
        assert_eq!(
            argument.detail,
            "must be 'red' or 'dark_blue', got \"green\""
        );
        assert_eq!(one_of(&["a", "b", "c"]), "'a', 'b' or 'c'");
        assert_eq!(one_of(&["a"]), "'a'");
    }
}
