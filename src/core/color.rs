//! Tag colours. HelpCrunch's docs: "You can assign any CSS color to the tag". A colour is sent
//! exactly as given (HelpCrunch stores and shows it); what is checked here is only that it is
//! a CSS colour, so a typo is refused before anything is sent, with the reason.
//!
//! Taken (CSS Color 4, keywords and function names in any case):
//! - `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`;
//! - the 148 named colours (`red`, `rebeccapurple`, `grey` and `gray`) and `transparent`;
//! - `rgb()`/`rgba()` and `hsl()`/`hsla()` in the legacy comma syntax (`rgb(255, 0, 0, 0.5)`,
//!   `hsl(120deg, 50%, 50%)`) and the modern one (`rgb(255 0 0 / 50%)`, with `none`), and the
//!   modern-only `hwb()`, `lab()`, `lch()`, `oklab()`, `oklch()` and `color(<space> …)`.
//!   Components out of range are valid CSS (a browser clamps them), so they are taken.
//!
//! Refused, though CSS takes them as colours: `currentcolor` and the system colours (`Canvas`,
//! `ButtonText`, …) name no colour of their own, only the one of wherever and on whatever
//! screen the tag is drawn; colours computed from others (`color-mix()`, `rgb(from …)`,
//! `light-dark()`) and `calc()`/`var()` inside a colour, which only a browser can resolve;
//! white space around the colour (a CSV cell's stray space), which would be sent and stored.

/// The CSS named colours (CSS Color 4, section 6.1), in lower case.
#[rustfmt::skip]
pub const NAMED: [&str; 148] = [
    "aliceblue", "antiquewhite", "aqua", "aquamarine", "azure", "beige", "bisque", "black",
    "blanchedalmond", "blue", "blueviolet", "brown", "burlywood", "cadetblue", "chartreuse",
    "chocolate", "coral", "cornflowerblue", "cornsilk", "crimson", "cyan", "darkblue",
    "darkcyan", "darkgoldenrod", "darkgray", "darkgreen", "darkgrey", "darkkhaki", "darkmagenta",
    "darkolivegreen", "darkorange", "darkorchid", "darkred", "darksalmon", "darkseagreen",
    "darkslateblue", "darkslategray", "darkslategrey", "darkturquoise", "darkviolet", "deeppink",
    "deepskyblue", "dimgray", "dimgrey", "dodgerblue", "firebrick", "floralwhite", "forestgreen",
    "fuchsia", "gainsboro", "ghostwhite", "gold", "goldenrod", "gray", "green", "greenyellow",
    "grey", "honeydew", "hotpink", "indianred", "indigo", "ivory", "khaki", "lavender",
    "lavenderblush", "lawngreen", "lemonchiffon", "lightblue", "lightcoral", "lightcyan",
    "lightgoldenrodyellow", "lightgray", "lightgreen", "lightgrey", "lightpink", "lightsalmon",
    "lightseagreen", "lightskyblue", "lightslategray", "lightslategrey", "lightsteelblue",
    "lightyellow", "lime", "limegreen", "linen", "magenta", "maroon", "mediumaquamarine",
    "mediumblue", "mediumorchid", "mediumpurple", "mediumseagreen", "mediumslateblue",
    "mediumspringgreen", "mediumturquoise", "mediumvioletred", "midnightblue", "mintcream",
    "mistyrose", "moccasin", "navajowhite", "navy", "oldlace", "olive", "olivedrab", "orange",
    "orangered", "orchid", "palegoldenrod", "palegreen", "paleturquoise", "palevioletred",
    "papayawhip", "peachpuff", "peru", "pink", "plum", "powderblue", "purple", "rebeccapurple",
    "red", "rosybrown", "royalblue", "saddlebrown", "salmon", "sandybrown", "seagreen",
    "seashell", "sienna", "silver", "skyblue", "slateblue", "slategray", "slategrey", "snow",
    "springgreen", "steelblue", "tan", "teal", "thistle", "tomato", "turquoise", "violet",
    "wheat", "white", "whitesmoke", "yellow", "yellowgreen",
];

/// CSS system colours (current and deprecated), refused: see the module's notes.
#[rustfmt::skip]
const SYSTEM: &[&str] = &[
    "accentcolor", "accentcolortext", "activetext", "buttonborder", "buttonface", "buttontext",
    "canvas", "canvastext", "field", "fieldtext", "graytext", "highlight", "highlighttext",
    "linktext", "mark", "marktext", "selecteditem", "selecteditemtext", "visitedtext",
    "activeborder", "activecaption", "appworkspace", "background", "buttonhighlight",
    "buttonshadow", "captiontext", "inactiveborder", "inactivecaption", "inactivecaptiontext",
    "infobackground", "infotext", "menu", "menutext", "scrollbar", "threeddarkshadow",
    "window",
];

/// The colour spaces `color()` names.
#[rustfmt::skip]
const SPACES: &[&str] = &[
    "srgb", "srgb-linear", "display-p3", "a98-rgb", "prophoto-rgb", "rec2020", "xyz", "xyz-d50",
    "xyz-d65",
];

/// What a refusal ends with: what a colour may be.
pub const ACCEPTED: &str = "a color is any CSS color: a name ('red'), '#rgb', '#rgba', \
    '#rrggbb', '#rrggbbaa', rgb(), rgba(), hsl(), hsla(), hwb(), lab(), lch(), oklab(), \
    oklch() or color()";

/// None when `text` is a CSS colour (as the module says), else why it is not.
pub fn css_color_problem(text: &str) -> Option<String> {
    if text.is_empty() {
        return Some("it is empty".into());
    }
    if text.trim_matches(is_css_space) != text {
        return Some("it has white space around it".into());
    }
    if let Some(hex) = text.strip_prefix('#') {
        return hex_problem(hex);
    }
    match text.find('(') {
        Some(open) => function_problem(&text[..open].to_ascii_lowercase(), &text[open + 1..]),
        None => keyword_problem(&text.to_ascii_lowercase()),
    }
}

fn is_css_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

fn hex_problem(hex: &str) -> Option<String> {
    if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Some(format!("{bad:?} is not a hex digit"));
    }
    match hex.len() {
        3 | 4 | 6 | 8 => None,
        n => Some(format!("'#' takes 3, 4, 6 or 8 hex digits, not {n}")),
    }
}

fn keyword_problem(word: &str) -> Option<String> {
    if word == "transparent" || NAMED.contains(&word) {
        None
    } else if word == "currentcolor" || SYSTEM.contains(&word) {
        Some(format!(
            "{word} is the colour of wherever the tag is drawn, not a colour of its own"
        ))
    } else {
        Some("it is not a CSS color name".into())
    }
}

/// What one component of a colour function may be.
#[derive(Clone, Copy, PartialEq)]
enum Takes {
    /// A number or a percentage.
    Amount,
    /// A hue: a number or an angle (`deg`, `grad`, `rad`, `turn`).
    Hue,
}

/// A component as written.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Component {
    Number,
    Percentage,
    Angle,
    None,
}

fn function_problem(name: &str, rest: &str) -> Option<String> {
    let Some(inner) = rest.strip_suffix(')') else {
        return Some("its '(' is not closed by a ')' at the end".into());
    };
    use Takes::{Amount, Hue};
    let (takes, legacy): ([Takes; 3], bool) = match name {
        "rgb" | "rgba" => ([Amount; 3], true),
        "hsl" | "hsla" => ([Hue, Amount, Amount], true),
        "hwb" => ([Hue, Amount, Amount], false),
        "lab" | "oklab" => ([Amount; 3], false),
        "lch" | "oklch" => ([Amount, Amount, Hue], false),
        "color" => return color_function_problem(inner),
        "color-mix" | "light-dark" | "calc" | "var" | "env" | "attr" => {
            return Some(format!(
                "{name}() is worked out by a browser; give the colour itself"
            ))
        }
        "" => return Some("it has no function name before '('".into()),
        _ => return Some(format!("{name}() is not a CSS color function")),
    };
    let tokens = match tokenize(inner) {
        Ok(tokens) => tokens,
        Err(problem) => return Some(problem),
    };
    if tokens.iter().any(|t| t == ",") {
        if !legacy {
            return Some(format!(
                "{name}() takes its values apart by spaces, not commas"
            ));
        }
        return legacy_problem(name, &tokens);
    }
    modern_problem(name, &takes, &tokens)
}

/// The comma syntax of `rgb()` and `hsl()`: `rgb(255, 0, 0)`, `hsla(120deg, 50%, 50%, .5)`.
fn legacy_problem(name: &str, tokens: &[String]) -> Option<String> {
    let values: Vec<&String> = tokens.iter().step_by(2).collect();
    let commas_between = tokens.iter().skip(1).step_by(2).all(|t| t == ",");
    if !commas_between || tokens.len().is_multiple_of(2) || !matches!(values.len(), 3 | 4) {
        return Some(format!(
            "{name}() with commas takes 3 values and an optional alpha, each after a comma"
        ));
    }
    let kinds: Vec<Component> = match values.iter().map(|v| component(v)).collect() {
        Ok(kinds) => kinds,
        Err(problem) => return Some(problem),
    };
    if kinds.contains(&Component::None) {
        return Some(format!("{name}() with commas does not take 'none'"));
    }
    let colour_ok = if name.starts_with("rgb") {
        kinds[..3].iter().all(|&k| k == Component::Number)
            || kinds[..3].iter().all(|&k| k == Component::Percentage)
    } else {
        matches!(kinds[0], Component::Number | Component::Angle)
            && kinds[1..3].iter().all(|&k| k == Component::Percentage)
    };
    if !colour_ok {
        return Some(if name.starts_with("rgb") {
            format!("{name}() with commas takes 3 numbers or 3 percentages, not a mix")
        } else {
            format!("{name}() with commas takes a hue, then 2 percentages")
        });
    }
    alpha_problem(kinds.get(3).copied())
}

/// The space syntax: `rgb(255 0 0 / 50%)`, `oklch(70% 0.1 200deg)`.
fn modern_problem(name: &str, takes: &[Takes; 3], tokens: &[String]) -> Option<String> {
    let (values, alpha) = match tokens.iter().position(|t| t == "/") {
        Some(slash) if slash + 2 == tokens.len() => (&tokens[..slash], Some(&tokens[slash + 1])),
        Some(_) => return Some(format!("{name}() takes one alpha value after '/'")),
        None => (tokens, None),
    };
    if values.len() != 3 {
        return Some(format!(
            "{name}() takes 3 values (and an optional '/ alpha'), got {}",
            values.len()
        ));
    }
    for (value, takes) in values.iter().zip(takes) {
        match (component(value), takes) {
            (Err(problem), _) => return Some(problem),
            (Ok(Component::Angle), Takes::Amount) => {
                return Some(format!("{name}() takes no angle in {value:?}'s place"))
            }
            (Ok(Component::Percentage), Takes::Hue) => {
                return Some(format!("a hue is a number or an angle, not {value:?}"))
            }
            _ => {}
        }
    }
    match alpha.map(|a| component(a)) {
        None => None,
        Some(Err(problem)) => Some(problem),
        Some(Ok(kind)) => alpha_problem(Some(kind)),
    }
}

fn alpha_problem(alpha: Option<Component>) -> Option<String> {
    match alpha {
        Some(Component::Angle) => Some("an alpha is a number or a percentage".into()),
        _ => None,
    }
}

/// `color(display-p3 1 0.5 0 / 0.8)`.
fn color_function_problem(inner: &str) -> Option<String> {
    let tokens = match tokenize(inner) {
        Ok(tokens) => tokens,
        Err(problem) => return Some(problem),
    };
    let Some((space, rest)) = tokens.split_first() else {
        return Some("color() takes a colour space and 3 values".into());
    };
    if space == "from" {
        return Some("a colour made from another is worked out by a browser".into());
    }
    if !SPACES.contains(&space.to_ascii_lowercase().as_str()) {
        return Some(format!(
            "color() takes a colour space first ({}), not {space:?}",
            SPACES.join(", ")
        ));
    }
    modern_problem("color", &[Takes::Amount; 3], rest)
}

/// The values of a function, with `,` and `/` as tokens of their own.
fn tokenize(inner: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in inner.chars() {
        if is_css_space(c) || c == ',' || c == '/' {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            if !is_css_space(c) {
                tokens.push(c.to_string());
            }
        } else if c == '(' || c == ')' {
            return Err(
                "calc(), var() and other functions inside a colour are worked out \
                        by a browser; give the number"
                    .into(),
            );
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    if tokens.first().is_some_and(|t| t == "from") {
        return Err("a colour made from another is worked out by a browser".into());
    }
    Ok(tokens)
}

/// A CSS number, percentage or angle, or `none`.
fn component(text: &str) -> Result<Component, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(Component::None);
    }
    let end = number_end(text).ok_or_else(|| format!("{text:?} is not a number"))?;
    let unit = text[end..].to_ascii_lowercase();
    match unit.as_str() {
        "" => Ok(Component::Number),
        "%" => Ok(Component::Percentage),
        "deg" | "grad" | "rad" | "turn" => Ok(Component::Angle),
        _ => Err(format!(
            "{text:?} is not a number, a percentage or an angle"
        )),
    }
}

/// Where the CSS number at the start of `text` ends: `[+-]? (\d+ (\.\d+)? | \.\d+) ([eE][+-]?\d+)?`.
fn number_end(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let digits = |mut i: usize| {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i > start).then_some(i)
    };
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    i = match digits(i) {
        Some(after) if b.get(after) == Some(&b'.') => digits(after + 1)?,
        Some(after) => after,
        None if b.get(i) == Some(&b'.') => digits(i + 1)?,
        None => return None,
    };
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        if let Some(after) = digits(i + 1 + sign) {
            i = after;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CSS colours, including the forms a hand-rolled check forgets.
    #[rustfmt::skip]
    pub const VALID: &[&str] = &[
        "#fff", "#FFF", "#c57de0", "#C57DE0", "#ffff", "#c57de080", "#00000000", "red", "RED",
        "Red", "rebeccapurple", "RebeccaPurple", "grey", "gray", "lightgoldenrodyellow",
        "transparent", "Transparent", "rgb(255,0,0)", "rgb(255, 0, 0)", "RGB(255,0,0)",
        "rgb( 255 , 0 , 0 )", "rgb(100%, 0%, 0%)", "rgb(255, 0, 0, 0.5)", "rgb(255,0,0,50%)",
        "rgba(255, 0, 0, .5)", "rgba(255,0,0)", "rgb(255 0 0)", "rgb(255 0 0 / 0.5)",
        "rgb(255 0 0/50%)", "rgb(100% 0 50%)", "rgb(none 0 0)", "rgb(255 0 0 / none)",
        "rgb(300, -5, 0)", "rgb(1e2 0 0)", "rgb(+1.5 .5 -0)", "rgb(1E+2 0 0)",
        "hsl(120, 50%, 50%)", "hsl(120deg, 50%, 50%)", "hsl(0.5turn, 50%, 50%, 0.3)",
        "hsla(120, 100%, 25%, 1)", "hsl(120 50% 50%)", "hsl(120deg 50 50 / 25%)",
        "hsl(none 50% 50%)", "HSL(2RAD 10% 10%)", "hsl(400grad 0% 0%)", "hwb(120 10% 20%)",
        "lab(50% 40 59.5)", "lch(52.2% 72.2 50 / 0.5)", "oklab(0.5 -0.1 0.1)",
        "oklch(70% 0.1 200deg)", "color(display-p3 1 0.5 0)", "color(srgb 100% 0 0 / .5)",
        "rgb(\t255\n0 0)",
    ];

    /// Not CSS colours, each for a different reason.
    #[rustfmt::skip]
    pub const INVALID: &[&str] = &[
        "", " ", "#", "#ff", "#fffff", "#fffffff", "#fffffffff", "#ggg", "#c57de0 ", " red",
        "red ", "c57de0", "redd", "re d", "bleu", "currentcolor", "currentColor", "Canvas",
        "ButtonText", "rgb", "rgb(", "rgb()", "rgb(255,0)", "rgb(255,0,0,0,0)", "rgb(255 0)",
        "rgb(255 0 0 0)", "rgb(255, 0 0)", "rgb(255,0,0 / 1)", "rgb(255 0 0 /)",
        "rgb(255 0 0 / 1 / 1)", "rgb(100%, 0, 0)", "rgb(none, 0, 0)", "rgb(red 0 0)",
        "rgb(10px 0 0)", "rgb(90deg 0 0)", "rgb (255,0,0)", "rgb(255,0,0))", "rgb(255,,0,0)",
        "rgb(1e 0 0)", "rgb(0. 0 0)", "rgb(- 0 0)", "rgb(. 0 0)", "hsl(120, 50, 50)", "hsl(120%, 50%, 50%)",
        "hsl(120% 50% 50%)", "hsl(120, 50%, 50%, 90deg)", "hwb(120, 10%, 20%)",
        "lab(50%, 40, 59)", "oklch(70% 0.1)", "color(1 0 0)", "color(p3 1 0 0)", "color()",
        "color-mix(in srgb, red, blue)", "rgb(from red r g b)", "rgb(calc(1 + 2) 0 0)",
        "var(--x)", "light-dark(red, blue)", "cmyk(0, 0, 0, 0)", "(255,0,0)", "url(#a)",
        "#c57de0;", "red;", "\u{ff52}ed",
    ];

    #[test]
    fn css_colours_are_taken_in_every_css_form() {
        for color in VALID {
            assert_eq!(css_color_problem(color), None, "{color:?}");
        }
    }

    #[test]
    fn what_is_not_a_css_colour_is_refused_with_a_reason() {
        for color in INVALID {
            let problem = css_color_problem(color);
            assert!(
                problem.as_deref().is_some_and(|p| !p.is_empty()),
                "{color:?}"
            );
        }
        let why = |c| css_color_problem(c).unwrap();
        assert!(why("#ggg").contains("hex digit"));
        assert!(why("#fffff").contains("3, 4, 6 or 8"));
        assert!(why("currentcolor").contains("wherever"));
        assert!(why(" red").contains("white space"));
        assert!(why("rgb(255 0)").contains("3 values"));
    }

    #[test]
    fn every_named_colour_is_lower_case_and_listed_once() {
        let mut names = NAMED.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMED.len());
        assert!(NAMED
            .iter()
            .all(|n| n.bytes().all(|b| b.is_ascii_lowercase())));
        for name in NAMED {
            assert_eq!(css_color_problem(&name.to_ascii_uppercase()), None);
        }
    }
}
