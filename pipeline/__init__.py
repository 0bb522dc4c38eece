"""safeguarding-themes: Ofsted inspection letters to findings tagged with safeguarding themes."""

__version__ = "0.1.0"
