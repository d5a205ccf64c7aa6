/* The storm's target: exits at once, so its argv can only be read in the moment after exec. */
int main(void) { return 0; }
